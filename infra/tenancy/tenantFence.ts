import type { Client } from "pg";
import { quoteIdent } from "../naming";
import { tenantDataTables } from "./tenantPolicies";

/**
 * The database-side fence of a moving tenant (migration 20261203000000): while a tenant's row is in
 * `bloom_platform.tenant_fences`, the app's writes of its rows fail with SQLSTATE BL503, whatever the app cached.
 * The migrator (table owner) passes: it copies and purges.
 */
export { TENANT_MAINTENANCE_SQLSTATE } from "@bloom/tenant-runtime";
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
 * Fences a tenant and returns once no write of it that passed the fence check before the fence can still commit:
 * after the fence commits, it waits for every transaction of this database that was running at that moment (as
 * CREATE INDEX CONCURRENTLY waits for older transactions). A write that checked the fences before it took effect
 * belongs to one of them; every later one sees the fence (READ COMMITTED). Waiting on transactions, not on a lock
 * the writes take, leaves the app nothing to hold against another tenant. `inTransaction`: the caller's open
 * transaction carries the fence and there is no wait — only for a tenant already fenced (a change of reason).
 * A transaction left open holds the fence up for at most `waitMs`, then this fails naming it; the fence stays,
 * and a rerun waits again.
 */
export async function fenceTenant(c: Client, tenantId: string, reason: FenceReason, opts: { inTransaction?: boolean; waitMs?: number } = {}): Promise<void> {
  await c.query(
    `INSERT INTO "bloom_platform"."tenant_fences" ("tenant_id", "reason") VALUES ($1, $2)
     ON CONFLICT ("tenant_id") DO UPDATE SET "reason" = EXCLUDED."reason", "since" = CASE WHEN "tenant_fences"."reason" = EXCLUDED."reason" THEN "tenant_fences"."since" ELSE now() END`,
    [tenantId, reason]);
  if (opts.inTransaction) return;
  await waitForOlderTransactions(c, `fencing tenant "${tenantId}"`, opts.waitMs ?? 30_000);
}

/** Waits until every transaction of this database running now (other than this session's) has ended. */
export async function waitForOlderTransactions(c: Client, what: string, waitMs: number): Promise<void> {
  const running = (await c.query<{ vxid: string }>(
    `SELECT l.virtualxid AS vxid FROM pg_catalog.pg_locks l
     WHERE l.locktype = 'virtualxid' AND l.mode = 'ExclusiveLock' AND l.granted AND l.pid <> pg_catalog.pg_backend_pid()
       AND l.pid IN (SELECT a.pid FROM pg_catalog.pg_stat_activity a WHERE a.datname = pg_catalog.current_database())`)).rows.map((r) => r.vxid);
  const deadline = Date.now() + waitMs;
  let left = running;
  while (left.length) {
    const still = (await c.query<{ vxid: string; pid: number }>(
      `SELECT virtualxid AS vxid, pid FROM pg_catalog.pg_locks WHERE locktype = 'virtualxid' AND granted AND virtualxid = ANY($1::text[])`, [left])).rows;
    left = still.map((r) => r.vxid);
    if (!left.length) return;
    if (Date.now() > deadline) {
      throw new Error(`${what}: ${left.length} transaction(s) open since before it are still running after ${waitMs / 1000} s (pid ${still.map((r) => r.pid).join(", ")}; see pg_stat_activity): the fence stays; rerun to wait again once they end`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function unfenceTenant(c: Client, tenantId: string): Promise<void> {
  await c.query(`DELETE FROM "bloom_platform"."tenant_fences" WHERE "tenant_id" = $1`, [tenantId]);
}

export async function tenantFence(c: Client, tenantId: string): Promise<{ reason: FenceReason; since: Date } | undefined> {
  const { rows } = await c.query<{ reason: FenceReason; since: Date }>(`SELECT "reason", "since" FROM "bloom_platform"."tenant_fences" WHERE "tenant_id" = $1`, [tenantId]);
  return rows[0];
}

