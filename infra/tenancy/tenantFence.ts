import type { Client } from "pg";
import { quoteIdent } from "../naming";
import { tenantDataTables } from "./tenantPolicies";

/**
 * The database-side fence of a moving tenant (migration 20261203000000): while a tenant's row is in
 * `bloom_platform.tenant_fences`, the app's writes of its rows fail with SQLSTATE BL503, whatever the app cached.
 * The migrator (table owner) passes: it copies and purges.
 */
export const TENANT_MAINTENANCE_SQLSTATE = "BL503";
export const FENCE_TRIGGER = "bloom_tenant_fence";
const FENCE_FUNCTION = `"bloom_platform"."refuse_fenced_write"()`;

export type FenceReason = "moving" | "moved-out" | "offboarding";

/** Puts the fence trigger on every tenant table that lacks it (after each migration deploy). No-op before the migration. */
export async function ensureFenceTriggers(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ ok: boolean }>("SELECT to_regprocedure('bloom_platform.refuse_fenced_write()') IS NOT NULL AS ok");
  if (!rows[0]!.ok) return [];
  const fenced = new Set((await c.query<{ relname: string }>(
    `SELECT c.relname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
     WHERE t.tgname = $1 AND c.relnamespace = 'public'::regnamespace`, [FENCE_TRIGGER])).rows.map((r) => r.relname));
  const added: string[] = [];
  for (const table of await tenantDataTables(c)) {
    if (fenced.has(table)) continue;
    await c.query(`CREATE TRIGGER ${FENCE_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE ON "public".${quoteIdent(table)} FOR EACH ROW EXECUTE FUNCTION ${FENCE_FUNCTION}`);
    added.push(table);
  }
  return added;
}

/**
 * Fences a tenant and returns once no write of it that passed the fence check is still in flight (migration
 * 20261204000100: writers hold a shared per-tenant lock, the fence takes it exclusively after writing the fence).
 * `inTransaction`: the caller's open transaction carries it (the lock is then held until that commits). An app
 * transaction left open holds the fence up for at most `lockTimeout`, then this fails naming the wait.
 */
export async function fenceTenant(c: Client, tenantId: string, reason: FenceReason, opts: { inTransaction?: boolean; lockTimeout?: string } = {}): Promise<void> {
  const own = !opts.inTransaction;
  if (own) await c.query("BEGIN");
  try {
    await c.query(`SELECT pg_catalog.set_config('lock_timeout', $1, true)`, [opts.lockTimeout ?? "30s"]);
    await c.query(
      `INSERT INTO "bloom_platform"."tenant_fences" ("tenant_id", "reason") VALUES ($1, $2)
       ON CONFLICT ("tenant_id") DO UPDATE SET "reason" = EXCLUDED."reason", "since" = CASE WHEN "tenant_fences"."reason" = EXCLUDED."reason" THEN "tenant_fences"."since" ELSE now() END`,
      [tenantId, reason]);
    await c.query(`SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('bloom-tenant-fence'), pg_catalog.hashtext($1))`, [tenantId]).catch((err) => {
      if ((err as { code?: string }).code === "55P03") throw new Error(`fencing tenant "${tenantId}": a write of it has been in flight longer than ${opts.lockTimeout ?? "30s"} (an app transaction left open?); nothing was fenced — retry, or end that transaction (pg_stat_activity)`);
      throw err;
    });
    if (own) await c.query("COMMIT");
  } catch (err) {
    if (own) await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

export async function unfenceTenant(c: Client, tenantId: string): Promise<void> {
  await c.query(`DELETE FROM "bloom_platform"."tenant_fences" WHERE "tenant_id" = $1`, [tenantId]);
}

export async function tenantFence(c: Client, tenantId: string): Promise<{ reason: FenceReason; since: Date } | undefined> {
  const { rows } = await c.query<{ reason: FenceReason; since: Date }>(`SELECT "reason", "since" FROM "bloom_platform"."tenant_fences" WHERE "tenant_id" = $1`, [tenantId]);
  return rows[0];
}

/** True for the error a fenced write raises: the app retries it after resolving the tenant's connection again. */
export function isTenantMaintenanceError(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === TENANT_MAINTENANCE_SQLSTATE;
}
