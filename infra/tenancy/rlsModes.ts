import type { Client } from "pg";
import { quoteIdent } from "../naming";
import { withClient as withSqlClient } from "../database/sql/withClient";

/**
 * Row-level security modes (migration 20260501000000_phase2_tenancy_modes): `shadow` lets tenant-less sessions
 * through and counts them per table; `enforce` gives them nothing. Switching is one UPDATE by the migrator — no
 * migration, no lock on the tenant tables. The playbook's rollback lever (`relax`) drops the policies and disables
 * RLS, keeping the definitions so `restore` puts them back exactly.
 */
export type TenancyMode = "shadow" | "enforce";

const withClient = <T>(url: string, work: (c: Client) => Promise<T>) => withSqlClient(url, work, "bloom-tenancy");

export async function getTenancyMode(url: string): Promise<TenancyMode> {
  return withClient(url, async (c) => (await c.query<{ mode: TenancyMode }>('SELECT "mode" FROM "bloom_tenancy_settings" WHERE "id"')).rows[0]!.mode);
}

/** Returns the previous mode. The tenancy_enabled flag maps to it: enabled → enforce, disabled → shadow. */
export async function setTenancyMode(migratorUrl: string, mode: TenancyMode): Promise<TenancyMode> {
  return withClient(migratorUrl, async (c) => {
    const before = (await c.query<{ mode: TenancyMode }>('SELECT "mode" FROM "bloom_tenancy_settings" WHERE "id" FOR UPDATE')).rows[0]!.mode;
    if (before !== mode) await c.query('UPDATE "bloom_tenancy_settings" SET "mode" = $1, "changed_at" = now() WHERE "id"', [mode]);
    return before;
  });
}

export const modeForFlag = (tenancyEnabled: boolean): TenancyMode => (tenancyEnabled ? "enforce" : "shadow");

export async function tenantlessAccessCounts(url: string): Promise<Record<string, number>> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ table_name: string; hits: string }>('SELECT "table_name", "hits" FROM "bloom_tenantless_access" ORDER BY 1');
    return Object.fromEntries(rows.map((r) => [r.table_name, Number(r.hits)]));
  });
}

/** Tables under row-level security: every public table with a clinic_id column, and clinic itself. */
export async function tenantTables(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'clinic_id'
     UNION SELECT 'clinic' WHERE to_regclass('public.clinic') IS NOT NULL ORDER BY 1`,
  );
  return rows.map((r) => r.table_name);
}

const SAVED = '"bloom_rls_saved_policies"';

/** Rollback lever: keep every tenant policy's definition, drop the policies, disable RLS. Idempotent. */
export async function relaxRowLevelSecurity(migratorUrl: string): Promise<{ tables: string[]; policies: number }> {
  return withClient(migratorUrl, async (c) => {
    await c.query("BEGIN");
    try {
      await c.query(`CREATE TABLE IF NOT EXISTS ${SAVED} (table_name TEXT NOT NULL, policy_name TEXT NOT NULL, definition TEXT NOT NULL, saved_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (table_name, policy_name))`);
      const tables = await tenantTables(c);
      const { rows } = await c.query<{ tablename: string; policyname: string; cmd: string; permissive: string; roles: string[]; qual: string | null; with_check: string | null }>(
        "SELECT tablename, policyname, cmd, permissive, roles, qual, with_check FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY($1)",
        [tables],
      );
      for (const p of rows) {
        const definition = `CREATE POLICY ${quoteIdent(p.policyname)} ON ${quoteIdent(p.tablename)} AS ${p.permissive} FOR ${p.cmd}` +
          `${p.qual ? ` USING (${p.qual})` : ""}${p.with_check ? ` WITH CHECK (${p.with_check})` : ""}`;
        await c.query(`INSERT INTO ${SAVED} (table_name, policy_name, definition) VALUES ($1, $2, $3) ON CONFLICT (table_name, policy_name) DO UPDATE SET definition = EXCLUDED.definition, saved_at = now()`, [p.tablename, p.policyname, definition]);
        await c.query(`DROP POLICY ${quoteIdent(p.policyname)} ON ${quoteIdent(p.tablename)}`);
      }
      for (const t of tables) await c.query(`ALTER TABLE ${quoteIdent(t)} NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY`);
      await c.query("COMMIT");
      return { tables, policies: rows.length };
    } catch (err) {
      await c.query("ROLLBACK");
      throw err;
    }
  });
}

/** The inverse of relax: recreate the saved policies, ENABLE + FORCE RLS again. Idempotent. */
export async function restoreRowLevelSecurity(migratorUrl: string): Promise<{ tables: string[]; policies: number }> {
  return withClient(migratorUrl, async (c) => {
    await c.query("BEGIN");
    try {
      const tables = await tenantTables(c);
      const saved = (await c.query<{ exists: boolean }>(`SELECT to_regclass('public.bloom_rls_saved_policies') IS NOT NULL AS exists`)).rows[0]!.exists
        ? (await c.query<{ table_name: string; policy_name: string; definition: string }>(`SELECT table_name, policy_name, definition FROM ${SAVED}`)).rows
        : [];
      for (const p of saved) {
        const present = (await c.query("SELECT 1 FROM pg_policies WHERE schemaname = 'public' AND tablename = $1 AND policyname = $2", [p.table_name, p.policy_name])).rowCount;
        if (!present) await c.query(p.definition);
      }
      for (const t of tables) await c.query(`ALTER TABLE ${quoteIdent(t)} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY`);
      if (saved.length) await c.query(`DELETE FROM ${SAVED}`);
      await c.query("COMMIT");
      return { tables, policies: saved.length };
    } catch (err) {
      await c.query("ROLLBACK");
      throw err;
    }
  });
}
