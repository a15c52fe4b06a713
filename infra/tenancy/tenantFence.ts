import type { Client } from "pg";
import { quoteIdent } from "../naming";
import { tenantDataTables } from "./tenantPolicies";
import { inTransaction } from "../database/sql/withClient";
import { terminateForeignSessions } from "../coordination/foreignSessions";

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
 * belongs to one of them; every later one sees the fence (READ COMMITTED), or — on a snapshot older than the fence,
 * such as an imported one — is refused because it cannot see it (migration 20261206000000). Waiting on
 * transactions, not on a lock the writes take, leaves the app nothing to hold against another tenant.
 * `inTransaction`: the caller's open transaction carries the fence and there is no wait — only for a tenant already
 * fenced (a change of reason).
 * An app transaction left open past `terminateAppSessionsAfterMs` (its timeouts are the app's to lift) is ended,
 * and logged; one of the platform's own still open after `waitMs` fails this, naming it: the fence stays, and a
 * rerun waits again.
 */
export interface FenceWaitOptions {
  waitMs?: number;
  /** How long an app session may hold the fence up before it is terminated (default 10 s). */
  terminateAppSessionsAfterMs?: number;
  log?: (line: string) => void;
}

export async function fenceTenant(c: Client, tenantId: string, reason: FenceReason, opts: FenceWaitOptions & { inTransaction?: boolean } = {}): Promise<void> {
  const record = async () => {
    // Fences one at a time (a lock the app cannot take: it has no privilege on the table), so the transaction id
    // recorded last is the fence committed last.
    await c.query(`LOCK TABLE "bloom_platform"."tenant_fences" IN SHARE ROW EXCLUSIVE MODE`);
    await c.query(
      `INSERT INTO "bloom_platform"."tenant_fences" ("tenant_id", "reason") VALUES ($1, $2)
       ON CONFLICT ("tenant_id") DO UPDATE SET "reason" = EXCLUDED."reason", "since" = CASE WHEN "tenant_fences"."reason" = EXCLUDED."reason" THEN "tenant_fences"."since" ELSE now() END`,
      [tenantId, reason]);
    if ((await c.query<{ ok: boolean }>(`SELECT to_regclass('bloom_platform.latest_fence_xid') IS NOT NULL AS ok`)).rows[0]!.ok) {
      await c.query(`SELECT pg_catalog.setval('bloom_platform.latest_fence_xid', pg_catalog.txid_current())`);
    }
  };
  if (opts.inTransaction) return record();
  await inTransaction(c, record);
  await waitForOlderTransactions(c, `fencing tenant "${tenantId}"`, opts.waitMs ?? 30_000, opts);
}

/**
 * Waits until every transaction of this database running now (other than this session's) has ended; app sessions
 * still in one after `terminateAppSessionsAfterMs` are terminated (infra/coordination/foreignSessions.ts).
 */
export async function waitForOlderTransactions(c: Client, what: string, waitMs: number, opts: FenceWaitOptions = {}): Promise<void> {
  const running = (await c.query<{ vxid: string }>(
    `SELECT l.virtualxid AS vxid FROM pg_catalog.pg_locks l
     WHERE l.locktype = 'virtualxid' AND l.mode = 'ExclusiveLock' AND l.granted AND l.pid <> pg_catalog.pg_backend_pid()
       AND l.pid IN (SELECT a.pid FROM pg_catalog.pg_stat_activity a WHERE a.datname = pg_catalog.current_database())`)).rows.map((r) => r.vxid);
  const start = Date.now();
  const terminateAfter = opts.terminateAppSessionsAfterMs ?? 10_000;
  const log = opts.log ?? ((line: string) => console.warn(line));
  let terminated = false;
  let left = running;
  while (left.length) {
    const still = (await c.query<{ vxid: string; pid: number }>(
      `SELECT virtualxid AS vxid, pid FROM pg_catalog.pg_locks WHERE locktype = 'virtualxid' AND granted AND virtualxid = ANY($1::text[])`, [left])).rows;
    left = still.map((r) => r.vxid);
    if (!left.length) return;
    if (!terminated && Date.now() - start > terminateAfter) {
      terminated = true;
      await terminateForeignSessions(c, still.map((r) => r.pid), what, log);
      continue;
    }
    if (Date.now() - start > waitMs) {
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

