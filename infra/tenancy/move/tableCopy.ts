import type { Client } from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { quoteIdent, quoteLiteral } from "../../naming";

/**
 * One tenant's rows of one table, from one database to another, as a binary COPY stream (both databases carry the
 * same migrations, so the binary row format matches). The target's rows of that tenant are replaced in the same
 * transaction, so a copy interrupted at any point leaves the table as it was, and a rerun copies it again.
 */
export interface TableCopyResult {
  table: string;
  rows: number;
  bytes: number;
  ms: number;
  /** With `fingerprint`: both sides' fingerprints, taken in the copy's own transactions (the source at its snapshot). */
  fingerprints?: { source: TableFingerprint; target: TableFingerprint };
}

/** The columns COPY can write (generated columns are computed by the target), in table order, with their types. */
export interface ColumnType {
  column: string;
  /** As format_type writes it (with its modifier). */
  type: string;
}

export async function copyableColumnTypes(c: Client, table: string): Promise<ColumnType[]> {
  const { rows } = await c.query<ColumnType>(
    `SELECT a.attname AS column, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = ('"public".' || $1)::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum`, [quoteIdent(table)]);
  return rows;
}

/** The columns COPY can write, in table order. */
export async function copyableColumns(c: Client, table: string): Promise<string[]> {
  return (await copyableColumnTypes(c, table)).map((r) => r.column);
}

/** The tenant's clinic row, which every tenant table references, into the target (kept if already there). */
export async function copyClinicRow(source: Client, target: Client, tenantId: string): Promise<void> {
  const clinic = (await source.query(`SELECT to_jsonb(c) AS row FROM "public"."clinic" c WHERE c."id" = $1`, [tenantId])).rows[0]?.row;
  if (!clinic) throw new Error(`tenant "${tenantId}" has no clinic row in its source database: run \`pulumi up\` (it writes the clinic rows) and retry`);
  await target.query(`INSERT INTO "public"."clinic" SELECT * FROM jsonb_populate_record(NULL::"public"."clinic", $1) ON CONFLICT ("id") DO NOTHING`, [clinic]);
}

/**
 * `pace`: awaited before each chunk is passed on, with its size (a rate limit shared by concurrent copies).
 * `fingerprint`: both sides fingerprinted before the target commits — the source as the COPY read it (its
 * transaction's snapshot), the target exactly as loaded.
 */
export async function copyTenantTable(source: Client, target: Client, table: string, tenantId: string, opts: { pace?: (bytes: number) => Promise<void>; fingerprint?: boolean } = {}): Promise<TableCopyResult> {
  const started = Date.now();
  const columns = (await copyableColumns(source, table)).map(quoteIdent).join(", ");
  const t = `"public".${quoteIdent(table)}`;
  let bytes = 0;
  const pace = opts.pace;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (!pace) return done(null, chunk);
      pace(chunk.length).then(() => done(null, chunk), done);
    },
  });
  await target.query("BEGIN");
  try {
    await target.query(`DELETE FROM ${t} WHERE "clinic_id" = $1`, [tenantId]);
    // COPY takes no bind parameters: the tenant id goes in as a quoted literal.
    const out = source.query(copyTo(`COPY (SELECT ${columns} FROM ${t} WHERE "clinic_id" = ${quoteLiteral(tenantId)}) TO STDOUT (FORMAT binary)`));
    const into = target.query(copyFrom(`COPY ${t} (${columns}) FROM STDIN (FORMAT binary)`));
    await pipeline(out, counter, into);
    const fingerprints = opts.fingerprint
      ? await Promise.all([tenantTableFingerprint(source, table, tenantId), tenantTableFingerprint(target, table, tenantId)]).then(([s, d]) => ({ source: s, target: d }))
      : undefined;
    await target.query("COMMIT");
    return { table, rows: Number(into.rowCount ?? 0), bytes, ms: Date.now() - started, ...(fingerprints ? { fingerprints } : {}) };
  } catch (err) {
    await target.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

/** The progress line of one table's copy: rows, MB, seconds, MB/s. */
export const describeCopy = (r: TableCopyResult) =>
  `copied ${r.table}: ${r.rows} rows, ${(r.bytes / 1e6).toFixed(1)} MB in ${(r.ms / 1000).toFixed(1)} s (${(r.bytes / 1e6 / Math.max(r.ms / 1000, 0.001)).toFixed(1)} MB/s)`;

/** Some rows of a table, by their key: the key's columns (with their SQL types), and each row's values of them. */
export interface RowKeys {
  columns: ColumnType[];
  values: Record<string, unknown>[];
}

export interface TableFingerprint {
  rows: number;
  /** Sum of a 64-bit hash of every row (of the record, or of its text form): independent of row order, sensitive to any changed value. */
  checksum: string;
  /**
   * An online move's: the checksum is of the rows as the copy loaded them (at its snapshot), and this many rows
   * changed since, each compared between source and target under the fence.
   */
  changedSinceCopy?: number;
}

/**
 * Built-in types whose hash is a function of the value alone, the same in every database: their records are
 * hashed directly (hash_record_extended, about twice as fast as hashing the text form). An enum's hash is its
 * label's OID, which differs between databases; such tables (or any other type) fall back to the text form.
 */
const PORTABLE_HASH_TYPES = new Set(["bool", "int2", "int4", "int8", "numeric", "float4", "float8", "text", "varchar", "bpchar", "date", "time", "timestamp", "timestamptz", "interval", "uuid", "jsonb", "bytea"]);

/** Equal rows and checksums: the same rows, whatever their order. */
export const sameFingerprint = (a: TableFingerprint, b: TableFingerprint) => a.rows === b.rows && a.checksum === b.checksum;

export async function tenantTableFingerprint(c: Client, table: string, tenantId: string, only?: RowKeys): Promise<TableFingerprint> {
  const { rows: cols } = await c.query<{ attname: string; typname: string }>(
    `SELECT a.attname, t.typname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = ('"public".' || $1)::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum`, [quoteIdent(table)]);
  const columns = cols.map((r) => quoteIdent(r.attname)).join(", ");
  const hash = cols.every((r) => PORTABLE_HASH_TYPES.has(r.typname)) ? "pg_catalog.hash_record_extended(x, 0)" : "pg_catalog.hashtextextended(x::text, 0)";
  const keyed = only
    ? ` AND (${only.columns.map((k) => quoteIdent(k.column)).join(", ")}) IN (SELECT ${only.columns.map((k) => `k.${quoteIdent(k.column)}`).join(", ")}
         FROM pg_catalog.jsonb_to_recordset($2::jsonb) AS k(${only.columns.map((k) => `${quoteIdent(k.column)} ${k.type}`).join(", ")}))`
    : "";
  const { rows } = await c.query<{ n: string; sum: string }>(
    `SELECT count(*) AS n, coalesce(sum(${hash}::numeric), 0)::text AS sum
     FROM (SELECT ${columns} FROM "public".${quoteIdent(table)} WHERE "clinic_id" = $1${keyed}) x`, only ? [tenantId, JSON.stringify(only.values)] : [tenantId]);
  return { rows: Number(rows[0]!.n), checksum: rows[0]!.sum };
}
