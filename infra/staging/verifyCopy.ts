import { randomBytes } from "node:crypto";
import type { Client } from "pg";
import { to as copyTo } from "pg-copy-streams";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { COLUMN_ANNOTATIONS, maskedColumns, type AnnotatedColumn } from "../compliance/columnAnnotations";
import { quoteIdent, textArrayLiteral } from "../naming";
import { tenantDataTables } from "../tenancy/tenantPolicies";
import type { Annotations } from "./maskedCopy";

/**
 * Proof that a staging copy gives nothing away, before staging sees it. Each database hashes its own values with
 * a key made for this verification alone (keyedHash), so only keyed hashes leave prod and the verifier never
 * holds an original. Both sides run in transactions (the caller's), which the key lives and dies with.
 * Checked, for every column the annotations say is masked:
 *  - no row's value equals that row's original (same table, same primary key);
 *  - no masked contact value (email, phone) equals any original contact value anywhere in the source, every tenant
 *    included, not only the copied ones;
 * and per tenant and table the row counts equal the source's; every constraint of the target is valid.
 * The source is read in the caller's snapshot (the one the copy read).
 */
export interface VerificationReport {
  ok: boolean;
  problems: string[];
  checkedValues: number;
  /** Contact values of the source the masked ones were compared against. */
  originalContactValues: number;
}

/**
 * A keyed hash computed in SQL with built-ins only (no extension to install on prod): Postgres's 64-bit
 * hashtextextended, seeded with a random key made for this verification, cut to 52 bits (a number JavaScript holds
 * exactly; sets of numbers are what makes comparing millions cheap). Neither the seed nor a hash leaves the
 * verifier's memory, and a collision can only make the verification fail, never pass (equal values always hash
 * equal): a cryptographic hash would cost ten times as much here and protect nothing more.
 */
const keyedHash = (input: string) => `(pg_catalog.hashtextextended(${input}, bloom_key.seed) & 4503599627370495)`;
/** The seed, read once per statement (a join with one row kept apart by OFFSET 0: inlined, it is read per value). */
const KEY_SOURCE = `(SELECT current_setting('bloom.verify_key')::int8 AS seed OFFSET 0) bloom_key`;

/**
 * The key reaches each session as a bind parameter, never in a statement's text, where pg_stat_activity and
 * statement logs would show it: for the caller's transaction, or (`session`) until `forgetKey`.
 */
async function shareKey(c: Client, key: string, session = false): Promise<void> {
  await c.query("SELECT pg_catalog.set_config('bloom.verify_key', $1, $2)", [key, !session]);
}

async function forgetKey(c: Client): Promise<void> {
  await c.query("RESET bloom.verify_key");
}

/** A key for one verification: a random 64-bit seed, never stored. */
export const newVerificationKey = (): string => randomBytes(8).readBigInt64BE().toString();

/** The tables with masked columns, and those columns. */
export function maskedTables(annotations: Annotations = COLUMN_ANNOTATIONS): { table: string; cols: AnnotatedColumn[] }[] {
  const masked = maskedColumns(annotations);
  return [...new Set(masked.map((c) => c.table))].map((table) => ({ table, cols: masked.filter((c) => c.table === table) }));
}

/**
 * Per masked column, the keyed hashes of a table's values, read over COPY. A contact column hashes the value alone
 * (compared with every original anywhere); any other masked column hashes the row's id with the value, so equal
 * hashes mean "this row kept its own value". `chosen` limits the row-bound hashes (and, for a table without
 * contact columns, the rows read) to the copied tenants.
 */
async function columnHashes(c: Client, table: string, cols: AnnotatedColumn[], chosen: string[]): Promise<number[][]> {
  const inChosen = `"clinic_id" = ANY(${textArrayLiteral(chosen)})`;
  const anyContact = cols.some((col) => col.category === "contact");
  const exprs = cols.map((col) => {
    const value = `${quoteIdent(col.column)}::text`;
    return col.category === "contact" ? keyedHash(value) : `CASE WHEN ${inChosen} THEN ${keyedHash(`"id"::text || E'\\x01' || ${value}`)} END`;
  });
  const sql = `COPY (SELECT ${exprs.join(", ")} FROM "public".${quoteIdent(table)}, ${KEY_SOURCE}${anyContact ? "" : ` WHERE ${inChosen}`}) TO STDOUT (FORMAT binary)`;
  const out: number[][] = cols.map(() => []);
  const parser = new BinaryInt8Rows(cols.length, (i, v) => out[i]!.push(v));
  // A chunk per row: a plain write callback, not async iteration, which costs more than the row's parsing.
  await pipeline(c.query(copyTo(sql)), new Writable({ write: (chunk: Buffer, _enc, done) => { parser.write(chunk); done(); } }));
  parser.end();
  return out;
}

/**
 * COPY's binary format, for rows of non-negative int8 columns below 2^53 (the keyed hashes): fixed-width fields,
 * so millions of numbers are read without printing or parsing text. A row: int16 field count, then per field an
 * int32 length (-1: null) and the bytes; the stream opens with a signature and a header and ends with -1.
 */
const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");

export class BinaryInt8Rows {
  private rest: Buffer = Buffer.alloc(0);
  private headerRead = false;
  private ended = false;

  constructor(private readonly columns: number, private readonly onValue: (column: number, value: number) => void) {}

  write(chunk: Buffer): void {
    const b = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    let at = 0;
    if (!this.headerRead) {
      if (b.length >= 11 && !b.subarray(0, 11).equals(SIGNATURE)) throw new Error("not a binary COPY stream");
      if (b.length < 19 || b.length < 19 + b.readUInt32BE(15)) return void (this.rest = b);
      at = 19 + b.readUInt32BE(15);
      this.headerRead = true;
    }
    const rowBytes = 2 + this.columns * 12;
    for (;;) {
      if (b.length - at < 2) break;
      const fields = b.readInt16BE(at);
      if (fields === -1) {
        this.ended = true;
        at += 2;
        break;
      }
      if (fields !== this.columns) throw new Error(`a binary COPY row of ${fields} fields, ${this.columns} expected`);
      // The common case, a whole row of non-null values, in one check; a row with nulls is shorter.
      if (b.length - at < rowBytes && !this.rowFits(b, at)) break;
      at += 2;
      for (let i = 0; i < fields; i++) {
        const len = b.readInt32BE(at);
        at += 4;
        if (len === -1) continue;
        if (len !== 8) throw new Error(`a binary COPY field of ${len} bytes, 8 expected`);
        this.onValue(i, b.readUInt32BE(at) * 4294967296 + b.readUInt32BE(at + 4));
        at += 8;
      }
    }
    this.rest = b.subarray(at);
  }

  /** Whether the row at `at` (shorter than a row without nulls) is all in `b`. */
  private rowFits(b: Buffer, at: number): boolean {
    let p = at + 2;
    for (let i = 0; i < this.columns; i++) {
      if (b.length - p < 4) return false;
      const len = b.readInt32BE(p);
      p += 4 + Math.max(len, 0);
      if (p > b.length) return false;
    }
    return true;
  }

  end(): void {
    if (!this.ended || this.rest.length) throw new Error("the binary COPY stream ended inside a row");
  }
}

/** Each side's tables one after the other (one connection runs one statement), both sides at once. */
async function hashesOf(c: Client, tables: { table: string; cols: AnnotatedColumn[] }[], chosen: string[]): Promise<number[][][]> {
  const all: number[][][] = [];
  for (const t of tables) all.push(await columnHashes(c, t.table, t.cols, chosen));
  return all;
}

async function countsByTenant(c: Client, table: string, tenants: string[]): Promise<Map<string, number>> {
  const { rows } = await c.query<{ id: string; n: string }>(
    `SELECT "clinic_id" AS id, count(*) AS n FROM "public".${quoteIdent(table)} WHERE "clinic_id" = ANY($1) GROUP BY 1`, [tenants]);
  return new Map(rows.map((r) => [r.id, Number(r.n)]));
}

/** Per table (clinic first), each tenant's row count. */
export async function tableCounts(c: Client, tables: string[], tenants: string[]): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  for (const table of tables) {
    out.set(table, table === "clinic"
      ? new Map((await c.query<{ id: string }>(`SELECT "id" FROM "public"."clinic" WHERE "id" = ANY($1)`, [tenants])).rows.map((r) => [r.id, 1]))
      : await countsByTenant(c, table, tenants));
  }
  return out;
}

async function constraintsOf(c: Client): Promise<{ name: string; valid: boolean }[]> {
  return (await c.query<{ name: string; valid: boolean }>(
    `SELECT conname AS name, convalidated AS valid FROM pg_catalog.pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('p', 'u', 'f', 'c')`)).rows;
}

/** What the source contributes: its keyed hashes, counts and constraints, read in the caller's snapshot. */
export interface SourceSide {
  key: string;
  tenants: string[];
  tables: { table: string; cols: AnnotatedColumn[] }[];
  hashes: number[][][];
  counts: Map<string, Map<string, number>>;
  constraints: { name: string; valid: boolean }[];
}

/**
 * The source's half of the verification. It needs only the source, so a refresh starts it as soon as the rows
 * are loaded, while the target rebuilds its keys (two servers' cores at work, not one after the other).
 */
export async function readSourceSide(source: Client, opts: { tenants: string[]; key: string; annotations?: Annotations }): Promise<SourceSide> {
  const tables = maskedTables(opts.annotations);
  await shareKey(source, opts.key);
  const hashes = await hashesOf(source, tables, opts.tenants);
  const counts = await tableCounts(source, ["clinic", ...(await tenantDataTables(source))], opts.tenants);
  return { key: opts.key, tenants: opts.tenants, tables, hashes, counts, constraints: await constraintsOf(source) };
}

/**
 * The target's keyed hashes, on a connection of their own over committed rows, one statement per table outside
 * any transaction: each table's read lock is let go at once, so the rebuild's ALTER TABLEs on the same branch wait
 * at most one table's scan.
 */
export async function readTargetHashes(target: Client, opts: { tenants: string[]; key: string; annotations?: Annotations }): Promise<number[][][]> {
  await shareKey(target, opts.key, true);
  try {
    return await hashesOf(target, maskedTables(opts.annotations), opts.tenants);
  } finally {
    await forgetKey(target);
  }
}

/** The keyed hashes compared: what needs no database (and runs while the target rebuilds its keys). */
export interface HashComparison {
  problems: string[];
  checkedValues: number;
  originalContactValues: number;
}

/**
 * The target's keyed hashes (readTargetHashes) against the source's. It yields between columns, so the rebuild
 * going on meanwhile on the same process keeps being sent its statements.
 */
export async function compareHashes(side: SourceSide, after: number[][][]): Promise<HashComparison> {
  const problems: string[] = [];
  let checkedValues = 0;
  // Sorted arrays, not sets: millions of numbers sort in a fraction of the time a Set takes to fill.
  const originalContacts = sortedOf(side.tables.flatMap(({ cols }, t) => cols.flatMap((c, i) => (c.category === "contact" ? [side.hashes[t]![i]!] : []))));
  for (const [t, { table, cols }] of side.tables.entries()) {
    for (const [i, c] of cols.entries()) {
      await new Promise((next) => setImmediate(next));
      const found = sortedOf([after[t]![i]!]);
      checkedValues += found.length;
      if (c.category === "contact") {
        const n = sharedCount(found, originalContacts);
        if (n) problems.push(`${table}.${c.column}: ${n} masked value(s) equal an original contact value in the source`);
      } else {
        const n = sharedCount(found, sortedOf([side.hashes[t]![i]!]));
        if (n) problems.push(`${table}.${c.column}: ${n} row(s) keep their original value (the column is annotated "${c.mask}" but was not masked)`);
      }
    }
  }
  return { problems, checkedValues, originalContactValues: distinctCount(originalContacts) };
}

/** The whole verification: the hashes compared (compareHashes), and the target's counts and constraints. */
export async function verifyAgainstSource(target: Client, side: SourceSide, compared: HashComparison): Promise<VerificationReport> {
  const problems = [...compared.problems];
  const counts = await tableCounts(target, [...side.counts.keys()], side.tenants);
  for (const [table, want] of side.counts) {
    const got = counts.get(table)!;
    for (const id of side.tenants) {
      if ((want.get(id) ?? 0) !== (got.get(id) ?? 0)) problems.push(`${table}: tenant ${id} has ${got.get(id) ?? 0} row(s) in staging, ${want.get(id) ?? 0} in the source (by ${table === "clinic" ? "id" : "clinic_id"})`);
    }
  }
  const targetConstraints = await constraintsOf(target);
  for (const k of targetConstraints) if (!k.valid) problems.push(`constraint ${k.name} is not valid in staging`);
  const present = new Set(targetConstraints.map((k) => k.name));
  for (const k of side.constraints) if (!present.has(k.name)) problems.push(`constraint ${k.name} is missing in staging`);
  return { ok: problems.length === 0, problems, checkedValues: compared.checkedValues, originalContactValues: compared.originalContactValues };
}

function sortedOf(parts: number[][]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) for (const v of p) out[at++] = v;
  return out.sort();
}

/** How many of `found` (duplicates each counted) occur in `among`; both sorted. */
function sharedCount(found: Float64Array, among: Float64Array): number {
  let n = 0;
  for (let i = 0, j = 0; i < found.length; i++) {
    while (j < among.length && among[j]! < found[i]!) j++;
    if (j < among.length && among[j] === found[i]) n++;
  }
  return n;
}

function distinctCount(sorted: Float64Array): number {
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) n++;
  return n;
}
