import type { Client } from "pg";
import { quoteIdent } from "../../naming";
import { ensureFenceTriggers } from "../../tenancy/tenantFence";
import { tenantTables } from "../../tenancy/tenantPolicies";
import { inTransaction, withClient } from "./withClient";

/**
 * The app role's complete privilege set, as an explicit allow-list (issue 9: the app role is the attacker):
 * - database: CONNECT only (no TEMP: a temp table would shadow names in elevated functions; no CREATE);
 * - schemas: USAGE on public only (no CREATE anywhere, nothing on bloom_platform);
 * - tables: SELECT, INSERT, UPDATE, DELETE on the tenant tables (row-level security decides which rows), SELECT on
 *   `clinic` (clinic rows are the platform's to write); nothing on `_prisma_migrations` or any other table;
 * - sequences: USAGE, SELECT on sequences owned by a tenant table;
 * - functions: EXECUTE on the policies' helper, the routing lookup (one tenant's location) and the tenancy mode,
 *   nothing else.
 * Applied by revoking everything in the database's own schemas and granting the list, in one transaction, on the
 * role's creation and on every update, and again after each migration deploy (new tables get nothing by default).
 * The same pass puts the tenant fence's trigger on tenant tables that lack it (a table a later migration added).
 */
export const APP_ROLE_SETTINGS: Record<string, string> = {
  // Bound what one request can hold: a runaway query, a lock wait, a transaction left open by a crashed handler.
  statement_timeout: "30s",
  lock_timeout: "5s",
  idle_in_transaction_session_timeout: "60s",
};

export const TENANT_TABLE_PRIVILEGES = ["SELECT", "INSERT", "UPDATE", "DELETE"] as const;
export const READ_ONLY_TABLES = ["clinic"];
export const APP_FUNCTIONS = ["public.bloom_tenantless_allowed(text)", "public.bloom_tenant_location(text)", "public.bloom_tenancy_mode()"];

export async function applyAppPrivileges(client: Client, role: string): Promise<void> {
  const r = quoteIdent(role);
  await inTransaction(client, async () => {
    const db = (await client.query<{ db: string }>("SELECT current_database() AS db")).rows[0]!.db;
    await client.query(`REVOKE ALL ON DATABASE ${quoteIdent(db)} FROM ${r}`);
    await client.query(`GRANT CONNECT ON DATABASE ${quoteIdent(db)} TO ${r}`);
    const schemas = (await client.query<{ nspname: string }>(
      "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%' AND pg_catalog.has_schema_privilege(current_user, oid, 'CREATE')")).rows.map((x) => x.nspname);
    for (const s of schemas.map(quoteIdent)) {
      await client.query(`REVOKE ALL ON SCHEMA ${s} FROM ${r}`);
      await client.query(`REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM ${r}`);
      await client.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${s} FROM ${r}`);
      await client.query(`REVOKE ALL ON ALL ROUTINES IN SCHEMA ${s} FROM ${r}`);
      // Earlier versions granted DML on every future table by default: that is how bookkeeping became writable.
      for (const kind of ["TABLES", "SEQUENCES", "ROUTINES"]) await client.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} REVOKE ALL ON ${kind} FROM ${r}`);
    }
    await client.query(`GRANT USAGE ON SCHEMA "public" TO ${r}`);
    const tables = await tenantTables(client);
    for (const t of tables) {
      const privileges = READ_ONLY_TABLES.includes(t) ? "SELECT" : TENANT_TABLE_PRIVILEGES.join(", ");
      await client.query(`GRANT ${privileges} ON "public".${quoteIdent(t)} TO ${r}`);
    }
    const sequences = (await client.query<{ seq: string }>(
      `SELECT s.oid::regclass::text AS seq FROM pg_catalog.pg_class s JOIN pg_catalog.pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
       JOIN pg_catalog.pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S' AND t.relnamespace = 'public'::regnamespace AND t.relname = ANY($1)`, [tables])).rows;
    for (const { seq } of sequences) await client.query(`GRANT USAGE, SELECT ON SEQUENCE ${seq} TO ${r}`);
    for (const fn of APP_FUNCTIONS) {
      if ((await client.query("SELECT to_regprocedure($1) IS NOT NULL AS ok", [fn])).rows[0].ok) await client.query(`GRANT EXECUTE ON FUNCTION ${fn} TO ${r}`);
    }
    await ensureFenceTriggers(client);
    await resetAppRoleSettings(client, role);
  });
}

/**
 * The platform owns the whole role: whatever settings the app planted on itself (`ALTER ROLE CURRENT_USER SET
 * default_transaction_read_only = on`, role-wide or `IN DATABASE`) are reset, then exactly APP_ROLE_SETTINGS set.
 */
export async function resetAppRoleSettings(client: Client, role: string): Promise<void> {
  const r = quoteIdent(role);
  await client.query(`ALTER ROLE ${r} RESET ALL`);
  const perDatabase = (await client.query<{ db: string }>(
    `SELECT d.datname AS db FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase WHERE s.setrole = $1::regrole`, [role])).rows;
  for (const { db } of perDatabase) await client.query(`ALTER ROLE ${r} IN DATABASE ${quoteIdent(db)} RESET ALL`);
  for (const [name, value] of Object.entries(APP_ROLE_SETTINGS)) await client.query(`ALTER ROLE ${r} SET ${name} = '${value}'`);
}

/** What the role's settings are now, as `name=value` per database (`*` = role-wide), for drift checks. */
export async function appRoleSettings(client: Client, role: string): Promise<{ database: string; settings: string[] }[]> {
  return (await client.query<{ database: string; settings: string[] }>(
    `SELECT coalesce(d.datname, '*') AS database, s.setconfig AS settings FROM pg_catalog.pg_db_role_setting s
     LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase WHERE s.setrole = $1::regrole ORDER BY 1`, [role])).rows;
}

export function expectedAppRoleSettings(): { database: string; settings: string[] }[] {
  return [{ database: "*", settings: Object.entries(APP_ROLE_SETTINGS).map(([k, v]) => `${k}=${v}`) }];
}

/** applyAppPrivileges over its own short connection (the AppPrivileges resource, after each migration deploy). */
export async function applyAppPrivilegesAt(migratorUrl: string, role: string): Promise<void> {
  await withClient(migratorUrl, (client) => applyAppPrivileges(client, role), "bloom-app-privileges");
}
