import { randomBytes } from "node:crypto";
import type { Client } from "pg";
import { COLUMN_ANNOTATIONS, maskedColumns } from "../compliance/columnAnnotations";
import { quoteIdent, quoteLiteral } from "../naming";
import { tenantDataTables } from "../tenancy/tenantPolicies";
import type { Annotations } from "./maskedCopy";

/**
 * Proof that a staging copy gives nothing away, before staging sees it. Each database hashes its own values with
 * a key made for this verification alone (HMAC-SHA-256 computed in SQL), so only keyed hashes leave prod and the
 * verifier never holds an original. Checked, for every column the annotations say is masked:
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

const BLOCK = 64;

/** HMAC(key, value) in SQL over pgcrypto-free built-ins: sha256((k ^ opad) || sha256((k ^ ipad) || m)). */
function hmacSql(column: string): string {
  return `CASE WHEN ${column} IS NULL THEN NULL ELSE encode(substr(sha256($2::bytea || sha256($1::bytea || convert_to(${column}::text, 'UTF8'))), 1, 12), 'hex') END`;
}

function hmacPads(): [Buffer, Buffer] {
  const key = randomBytes(BLOCK);
  return [Buffer.from(key.map((b) => b ^ 0x36)), Buffer.from(key.map((b) => b ^ 0x5c))];
}

async function hashedColumns(c: Client, table: string, columns: string[], pads: [Buffer, Buffer], tenants?: string[]): Promise<Map<string, (string | null)[]>> {
  const where = tenants ? `WHERE "clinic_id" = ANY(ARRAY[${tenants.map(quoteLiteral).join(", ")}]::text[])` : "";
  const { rows } = await c.query<(string | null)[]>({
    text: `SELECT "id"::text, ${columns.map((col) => hmacSql(quoteIdent(col))).join(", ")} FROM "public".${quoteIdent(table)} ${where}`,
    values: pads,
    rowMode: "array",
  });
  return new Map(rows.map((r) => [r[0]!, r.slice(1)]));
}

async function countsByTenant(c: Client, table: string, tenants: string[]): Promise<Map<string, number>> {
  const { rows } = await c.query<{ id: string; n: string }>(
    `SELECT "clinic_id" AS id, count(*) AS n FROM "public".${quoteIdent(table)} WHERE "clinic_id" = ANY($1) GROUP BY 1`, [tenants]);
  return new Map(rows.map((r) => [r.id, Number(r.n)]));
}

export async function verifyStagingCopy(source: Client, target: Client, opts: { tenants: string[]; annotations?: Annotations }): Promise<VerificationReport> {
  const annotations = opts.annotations ?? COLUMN_ANNOTATIONS;
  const pads = hmacPads();
  const problems: string[] = [];
  let checkedValues = 0;
  const masked = maskedColumns(annotations);
  const tables = [...new Set(masked.map((c) => c.table))];

  // Every original contact value of the source, as keyed hashes.
  const originalContacts = new Set<string>();
  const contactColumns = masked.filter((c) => c.category === "contact");
  for (const table of new Set(contactColumns.map((c) => c.table))) {
    const cols = contactColumns.filter((c) => c.table === table).map((c) => c.column);
    for (const values of (await hashedColumns(source, table, cols, pads)).values()) for (const h of values) if (h) originalContacts.add(h);
  }

  for (const table of tables) {
    const cols = masked.filter((c) => c.table === table);
    const names = cols.map((c) => c.column);
    const before = await hashedColumns(source, table, names, pads, opts.tenants);
    const after = await hashedColumns(target, table, names, pads, opts.tenants);
    const same = new Map<string, number>();
    const leaked = new Map<string, number>();
    for (const [id, values] of after) {
      const original = before.get(id);
      values.forEach((h, i) => {
        if (h === null) return;
        checkedValues++;
        if (original && original[i] === h) same.set(names[i]!, (same.get(names[i]!) ?? 0) + 1);
        if (cols[i]!.category === "contact" && originalContacts.has(h)) leaked.set(names[i]!, (leaked.get(names[i]!) ?? 0) + 1);
      });
    }
    for (const [col, n] of same) problems.push(`${table}.${col}: ${n} row(s) keep their original value (the column is annotated "${annotations[table]![col]!.mask}" but was not masked)`);
    for (const [col, n] of leaked) problems.push(`${table}.${col}: ${n} masked value(s) equal an original contact value in the source`);
  }

  for (const table of ["clinic", ...(await tenantDataTables(source))]) {
    const key = table === "clinic" ? "id" : "clinic_id";
    const count = async (c: Client) => table === "clinic"
      ? new Map((await c.query<{ id: string }>(`SELECT "id" FROM "public"."clinic" WHERE "id" = ANY($1)`, [opts.tenants])).rows.map((r) => [r.id, 1]))
      : countsByTenant(c, table, opts.tenants);
    const [want, got] = [await count(source), await count(target)];
    for (const id of opts.tenants) {
      if ((want.get(id) ?? 0) !== (got.get(id) ?? 0)) problems.push(`${table}: tenant ${id} has ${got.get(id) ?? 0} row(s) in staging, ${want.get(id) ?? 0} in the source (by ${key})`);
    }
  }

  const constraints = async (c: Client) => (await c.query<{ name: string; valid: boolean }>(
    `SELECT conname AS name, convalidated AS valid FROM pg_catalog.pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('p', 'u', 'f', 'c')`)).rows;
  const targetConstraints = await constraints(target);
  for (const k of targetConstraints) if (!k.valid) problems.push(`constraint ${k.name} is not valid in staging`);
  const present = new Set(targetConstraints.map((k) => k.name));
  for (const k of await constraints(source)) if (!present.has(k.name)) problems.push(`constraint ${k.name} is missing in staging`);
  return { ok: problems.length === 0, problems, checkedValues, originalContactValues: originalContacts.size };
}

