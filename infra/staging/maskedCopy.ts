import type { Client } from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { pipeline } from "node:stream/promises";
import { annotationProblems, COLUMN_ANNOTATIONS, type ColumnAnnotation } from "../compliance/columnAnnotations";
import { inTransaction } from "../database/sql/withClient";
import { quoteIdent, quoteLiteral } from "../naming";
import { bulkLoadPlan, relaxForBulkLoad, restoreAfterBulkLoad } from "../tenancy/move/bulkLoad";
import { foreignKeyLevels } from "../tenancy/move/tableOrder";
import { copyableColumns, copyClinicRow } from "../tenancy/move/tableCopy";
import { tenantDataTables } from "../tenancy/tenantPolicies";
import type { Masker } from "./masking";
import { MaskingStream, type ColumnMask } from "./maskingStream";

/**
 * The local staging copy's data plane: the chosen tenants' rows, whole, from the source (read in one
 * REPEATABLE READ snapshot) into a target whose tenant tables are emptied first, every masked column replaced in
 * the COPY stream. The target is loaded relaxed (keys, indexes and foreign keys rebuilt after: the rebuild is
 * what proves the masked data keeps every unique and reference) and only ever sees masked values.
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

/**
 * Copies `tenants` from `source` (which the caller holds in a REPEATABLE READ transaction) into `target`, in one
 * transaction of the target's, committed before `onLoaded` and the rebuild. `masks` says which columns are
 * replaced: the annotations' strategies (tests pass a wrong plan on purpose to show the verification catches it).
 */
export async function copyTenantsMasked(source: Client, target: Client, opts: { tenants: string[]; masker: Masker; masks?: Annotations; log?: (line: string) => void; onLoaded?: () => Promise<void> | void }): Promise<MaskedCopyResult> {
  const masks = opts.masks ?? COLUMN_ANNOTATIONS;
  if (Object.values(masks.clinic ?? {}).some((a) => a.mask !== "keep")) throw new Error("clinic rows are copied as they are: a masked clinic column needs the masked COPY path");
  const dataTables = await tenantDataTables(source);
  const tenantList = `ARRAY[${opts.tenants.map(quoteLiteral).join(", ")}]::text[]`;
  const tables: MaskedCopyResult["tables"] = [];
  const plan = await inTransaction(target, async () => {
    await target.query(`TRUNCATE ${dataTables.map((t) => `"public".${quoteIdent(t)}`).join(", ")}`);
    for (const id of opts.tenants) await copyClinicRow(source, target, id);
    const plan = await bulkLoadPlan(target, dataTables);
    if (plan) await relaxForBulkLoad(target, plan);
    for (const level of await foreignKeyLevels(source, dataTables)) {
      for (const table of level) {
        const started = Date.now();
        const columns = await copyableColumns(source, table);
        const columnMasks: ColumnMask[] = columns.flatMap((c, index) => {
          const strategy = masks[table]?.[c]?.mask ?? "keep";
          return strategy === "keep" ? [] : [{ index, strategy }];
        });
        const list = columns.map(quoteIdent).join(", ");
        const t = `"public".${quoteIdent(table)}`;
        const stream = new MaskingStream(table, columnMasks, columns.indexOf("id"), opts.masker);
        const out = source.query(copyTo(`COPY (SELECT ${list} FROM ${t} WHERE "clinic_id" = ANY(${tenantList})) TO STDOUT`));
        const into = target.query(copyFrom(`COPY ${t} (${list}) FROM STDIN`));
        await pipeline(out, stream, into);
        tables.push({ table, rows: stream.rows });
        opts.log?.(`copied ${table}: ${stream.rows} rows, ${columnMasks.length} column(s) masked, ${((Date.now() - started) / 1000).toFixed(1)} s`);
      }
    }
    return plan;
  });
  await opts.onLoaded?.();
  if (plan) {
    const started = Date.now();
    await restoreAfterBulkLoad(target, plan);
    opts.log?.(`rebuilt keys, indexes and foreign keys (every unique and reference checked against the masked rows): ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return { tables, rows: tables.reduce((n, t) => n + t.rows, 0) };
}
