import type { Client } from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { pipeline } from "node:stream/promises";
import { annotationProblems, COLUMN_ANNOTATIONS, type ColumnAnnotation } from "../compliance/columnAnnotations";
import { inTransaction } from "../database/sql/withClient";
import { quoteIdent, quoteLiteral } from "../naming";
import { bulkLoadPlan, relaxForBulkLoad, restoreAfterBulkLoad, tablesBySize } from "../tenancy/move/bulkLoad";
import { foreignKeyLevels } from "../tenancy/move/tableOrder";
import { copyableColumns, copyableColumnTypes, copyClinicRow } from "../tenancy/move/tableCopy";
import { tenantDataTables } from "../tenancy/tenantPolicies";
import { maskedSelect, shareMaskingKey, type MaskedColumn } from "./masking";

/**
 * The local staging copy's data plane: the chosen tenants' rows, whole, from the source (read in one
 * REPEATABLE READ snapshot) into a target whose tenant tables are emptied first, every masked column replaced by
 * the source's own SELECT (masking.ts), so the COPY stream between them carries masked values only. The target is
 * loaded relaxed (keys, indexes and foreign keys rebuilt after: the rebuild is what proves the masked data keeps
 * every unique and reference).
 */
export type Annotations = Record<string, Record<string, ColumnAnnotation>>;

export interface MaskedCopyResult {
  tables: { table: string; rows: number }[];
  rows: number;
}

/** The columns of each tenant table as the database has them, for the annotation check. */
export async function schemaColumns(c: Client): Promise<{ table: string; column: string }[]> {
  const tables = ["clinic", ...(await tenantDataTables(c))];
  const out: { table: string; column: string }[] = [];
  for (const table of tables) for (const column of await copyableColumns(c, table)) out.push({ table, column });
  return out;
}

/**
 * Refuses (before anything is created) a source schema with a column the annotations do not know, or one gone.
 * Returns the source's columns, for checkSameColumns.
 */
export async function checkAnnotated(source: Client, annotations: Annotations = COLUMN_ANNOTATIONS): Promise<{ table: string; column: string }[]> {
  const columns = await schemaColumns(source);
  const problems = annotationProblems(columns, annotations);
  if (problems.length) throw new Error(`the source's schema and the column annotations disagree; nothing was copied:\n  ${problems.join("\n  ")}`);
  return columns;
}

/** Refuses a target whose tenant tables differ from the source's (another set of migrations). */
export async function checkSameColumns(sourceColumns: { table: string; column: string }[], target: Client): Promise<void> {
  const key = (cols: { table: string; column: string }[]) => cols.map((c) => `${c.table}.${c.column}`).join(",");
  if (key(sourceColumns) !== key(await schemaColumns(target))) {
    throw new Error("staging's migrations build other tenant tables than the source's: deploy the same migrations to both (`bloom migrate deploy`) and retry; nothing was copied");
  }
}

/** A table's columns in order, with their types and masking strategies. */
async function columnsWithMasks(c: Client, table: string, masks: Annotations): Promise<MaskedColumn[]> {
  return (await copyableColumnTypes(c, table)).map((r) => ({ ...r, strategy: masks[table]?.[r.column]?.mask ?? "keep" }));
}

/** One source connection and one target connection, copying tables side by side with the other lanes. */
export interface CopyLane {
  /** In a REPEATABLE READ transaction; every lane's in the same snapshot (joinSnapshot). */
  source: Client;
  target: Client;
}

/** Puts `other` (a fresh connection) in `source`'s snapshot: what every lane reads is one point of the source. */
export async function joinSnapshot(source: Client, other: Client): Promise<void> {
  const { rows } = await source.query<{ id: string }>("SELECT pg_catalog.pg_export_snapshot() AS id");
  await other.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  await other.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(rows[0]!.id)}`);
}

/**
 * Copies `tenants` from the source (every lane's source connection in one snapshot) into the target: first, in one
 * transaction, the tenant tables emptied, the clinic rows written and the keys dropped for a relaxed load; then the
 * tables, the largest on disk first, each taken by the next free lane (the masking runs in the source's backends, so two
 * lanes use two cores), one transaction per lane; all committed before `onLoaded` and the rebuild. The target is a
 * branch nothing reads until it has verified, so a half-loaded one is never seen: a failure drops it. `masks` says
 * which columns are replaced: the annotations' strategies (tests pass a wrong plan on purpose to show the
 * verification catches it). `runKey` keys the masking; it reaches the source as a bind parameter, for the source's
 * transaction only.
 */
export async function copyTenantsMasked(lanes: CopyLane[], opts: { tenants: string[]; runKey: Buffer; masks?: Annotations; log?: (line: string) => void; onLoaded?: () => Promise<void> | void; rebuildAlongside?: Client[] }): Promise<MaskedCopyResult> {
  const { source, target } = lanes[0]!;
  const masks = opts.masks ?? COLUMN_ANNOTATIONS;
  if (Object.values(masks.clinic ?? {}).some((a) => a.mask !== "keep")) throw new Error("clinic rows are copied as they are: a masked clinic column needs the masked COPY path");
  const dataTables = await tenantDataTables(source);
  for (const lane of lanes) await shareMaskingKey(lane.source, opts.runKey);
  const plan = await inTransaction(target, async () => {
    await target.query(`TRUNCATE ${dataTables.map((t) => `"public".${quoteIdent(t)}`).join(", ")}`);
    for (const id of opts.tenants) await copyClinicRow(source, target, id);
    const plan = await bulkLoadPlan(target, dataTables);
    if (plan) await relaxForBulkLoad(target, plan);
    return plan;
  });
  const tables: MaskedCopyResult["tables"] = [];
  const copyTable = async (lane: CopyLane, table: string) => {
    const started = Date.now();
    const columns = await columnsWithMasks(lane.source, table, masks);
    const list = columns.map((c) => quoteIdent(c.column)).join(", ");
    // Binary: no value is printed by one server to be parsed by the other (timestamps cost most in text).
    const out = lane.source.query(copyTo(`COPY (${maskedSelect(table, columns, opts.tenants)}) TO STDOUT (FORMAT binary)`));
    const into = lane.target.query(copyFrom(`COPY "public".${quoteIdent(table)} (${list}) FROM STDIN (FORMAT binary)`));
    await pipeline(out, into);
    const rows = Number(into.rowCount);
    tables.push({ table, rows });
    opts.log?.(`copied ${table}: ${rows} rows, ${columns.filter((c) => c.strategy !== "keep").length} column(s) masked, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };
  if (plan) {
    // No key or foreign key is checked until the rebuild: any order, any lane.
    const queue = await tablesBySize(source, dataTables);
    await Promise.all(lanes.map((lane) => inTransaction(lane.target, async () => {
      for (let table = queue.shift(); table; table = queue.shift()) await copyTable(lane, table);
    })));
  } else {
    // A target that was not empty after all keeps its checks: one lane, parents before children.
    await inTransaction(target, async () => {
      for (const level of await foreignKeyLevels(source, dataTables)) for (const table of level) await copyTable(lanes[0]!, table);
    });
  }
  await opts.onLoaded?.();
  if (plan) {
    const started = Date.now();
    await restoreAfterBulkLoad(target, plan, opts.rebuildAlongside);
    opts.log?.(`rebuilt keys, indexes and foreign keys (every unique and reference checked against the masked rows): ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return { tables, rows: tables.reduce((n, t) => n + t.rows, 0) };
}
