import type { Client } from "pg";
import { quoteIdent, quoteLiteral } from "../naming";

/**
 * The tenant isolation policies as code: the definition the migrations install (20260401000000 and
 * 20260501000000), used by `restore` so a rollback lever never runs SQL read from a table the app could reach.
 * A test compares these with what the migrations leave in pg_policies.
 */
const TENANT = "nullif(current_setting('app.clinic_id', true), '')";

export const policyName = (table: string) => `${table}_tenant_isolation`;

export function tenantPolicySql(table: string): string {
  const condition = table === "clinic"
    ? `"id" = ${TENANT}`
    : `CASE WHEN ${TENANT} IS NULL THEN "public"."bloom_tenantless_allowed"(${quoteLiteral(table)}) ELSE "clinic_id" = ${TENANT} END`;
  return `CREATE POLICY ${quoteIdent(policyName(table))} ON "public".${quoteIdent(table)} USING (${condition}) WITH CHECK (${condition})`;
}

/** Tables under row-level security: every public table with a clinic_id column, and clinic itself. */
export async function tenantTables(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ table_name: string }>(
    `SELECT c.relname AS table_name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attname = 'clinic_id' AND NOT a.attisdropped
     UNION SELECT 'clinic' WHERE to_regclass('public.clinic') IS NOT NULL ORDER BY 1`,
  );
  return rows.map((r) => r.table_name);
}

/** The tables that hold a tenant's rows (every tenant table but `clinic` itself). */
export async function tenantDataTables(c: Client): Promise<string[]> {
  return (await tenantTables(c)).filter((t) => t !== "clinic");
}

/** Makes every tenant table's policy set exactly the code-defined one: other policies (planted or stale) are dropped. */
export async function recreateTenantPolicies(c: Client, tables: string[]): Promise<number> {
  const { rows } = await c.query<{ tablename: string; policyname: string }>(
    "SELECT tablename, policyname FROM pg_catalog.pg_policies WHERE schemaname = 'public' AND tablename = ANY($1)", [tables]);
  for (const p of rows) await c.query(`DROP POLICY ${quoteIdent(p.policyname)} ON "public".${quoteIdent(p.tablename)}`);
  for (const t of tables) await c.query(tenantPolicySql(t));
  return tables.length;
}
