import type { Client } from "pg";
import { quoteIdent } from "../naming";
import { withClient as withSqlClient, withTransaction } from "../database/sql/withClient";
import { recreateTenantPolicies, tenantTables } from "./tenantPolicies";

export { tenantTables };

/**
 * Row-level security modes (migration 20260501000000_phase2_tenancy_modes): `shadow` lets tenant-less sessions
 * through and counts them per table; `enforce` gives them nothing. Switching is one UPDATE by the migrator — no
 * migration, no lock on the tenant tables. The mode lives in bloom_platform, out of the app role's reach. The
 * playbook's rollback lever (`relax`) disables RLS; `restore` re-creates the policies from code and enables it.
 */
export type TenancyMode = "shadow" | "enforce";

const withClient = <T>(url: string, work: (c: Client) => Promise<T>) => withSqlClient(url, work, "bloom-tenancy");
const inTransaction = <T>(url: string, work: (c: Client) => Promise<T>) => withTransaction(url, work, "bloom-tenancy");

export async function readTenancyMode(c: Client): Promise<TenancyMode> {
  return (await c.query<{ mode: TenancyMode }>('SELECT "mode" FROM "bloom_platform"."tenancy_settings" WHERE "id"')).rows[0]!.mode;
}

export const getTenancyMode = (url: string): Promise<TenancyMode> => withClient(url, readTenancyMode);

/** Returns the previous mode. The tenancy_enabled flag maps to it: enabled → enforce, disabled → shadow. */
export async function setTenancyMode(migratorUrl: string, mode: TenancyMode): Promise<TenancyMode> {
  return withClient(migratorUrl, async (c) => {
    const before = (await c.query<{ mode: TenancyMode }>('SELECT "mode" FROM "bloom_platform"."tenancy_settings" WHERE "id" FOR UPDATE')).rows[0]!.mode;
    if (before !== mode) await c.query('UPDATE "bloom_platform"."tenancy_settings" SET "mode" = $1, "changed_at" = now() WHERE "id"', [mode]);
    return before;
  });
}

export const modeForFlag = (tenancyEnabled: boolean): TenancyMode => (tenancyEnabled ? "enforce" : "shadow");

export async function readTenantlessAccess(c: Client): Promise<Record<string, number>> {
  const { rows } = await c.query<{ table_name: string; hits: string }>('SELECT "table_name", "hits" FROM "bloom_platform"."tenantless_access" ORDER BY 1');
  return Object.fromEntries(rows.map((r) => [r.table_name, Number(r.hits)]));
}

export const tenantlessAccessCounts = (url: string): Promise<Record<string, number>> => withClient(url, readTenantlessAccess);

/** Rollback lever: disable row-level security on every tenant table. The policies stay in place, inert. Idempotent. */
export async function relaxRowLevelSecurity(migratorUrl: string): Promise<{ tables: string[]; policies: number }> {
  return inTransaction(migratorUrl, async (c) => {
    const tables = await tenantTables(c);
    for (const t of tables) await c.query(`ALTER TABLE "public".${quoteIdent(t)} NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY`);
    const { rows } = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_catalog.pg_policies WHERE schemaname = 'public' AND tablename = ANY($1)", [tables]);
    return { tables, policies: rows[0]!.n };
  });
}

/**
 * The inverse of relax: every tenant table gets exactly the code-defined policy (tenantPolicies.ts), any other
 * policy on it is dropped, and RLS is ENABLEd + FORCEd. Nothing is read from a table. Idempotent.
 */
export async function restoreRowLevelSecurity(migratorUrl: string): Promise<{ tables: string[]; policies: number }> {
  return inTransaction(migratorUrl, async (c) => {
    const tables = await tenantTables(c);
    const policies = await recreateTenantPolicies(c, tables);
    for (const t of tables) await c.query(`ALTER TABLE "public".${quoteIdent(t)} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY`);
    return { tables, policies };
  });
}
