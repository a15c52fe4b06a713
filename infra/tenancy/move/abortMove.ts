import type { Client } from "pg";
import { withClient } from "../../database/sql/withClient";
import { unfenceTenant } from "../tenantFence";
import { holdMoveLock, readCatalogRow, settleCatalogRow } from "./moveJournal";
import { deleteTenantRows } from "./purgeCopy";
import { restoreAfterBulkLoad } from "./bulkLoad";
import type { MoveHooks } from "./tenantMove";
import { dropReplication } from "./replication";

/**
 * Undoes a move that has not cut over: the rows it copied into the target are deleted, the tenant's fence at the
 * source lifted, the catalog and the stack config put back as they were; an online move's subscription, slot and
 * publication are dropped first (no WAL retained, nothing streams into rows being deleted). The source was never
 * changed, so nothing of the tenant's data is lost. Refused when no move is in progress.
 */
export interface AbortHooks extends Pick<MoveHooks, "declare"> {
  dedicatedUrl(): Promise<string | undefined>;
  /** Online moves: the replication admin's connection string on a database (see OnlineMoveOptions.adminUrl). */
  adminUrl?(databaseUrl: string): Promise<string>;
}

export async function abortTenantMove(poolUrl: string, tenantId: string, hooks: AbortHooks, log: (l: string) => void = () => undefined): Promise<{ direction: string; deletedFromTarget: number }> {
  return withClient(poolUrl, async (pool) => {
    await holdMoveLock(pool, tenantId);
    return abortHoldingLock(pool, poolUrl, tenantId, hooks, log);
  }, "bloom-move-abort");
}

/** The abort, on a pool connection that already holds the tenant's move lock (a failing online move undoes itself). */
export async function abortHoldingLock(pool: Client, poolUrl: string, tenantId: string, hooks: AbortHooks, log: (l: string) => void): Promise<{ direction: string; deletedFromTarget: number }> {
  const row = await readCatalogRow(pool, tenantId);
  if (!row) throw new Error(`unknown tenant "${tenantId}": it is not in the pool's catalog`);
  const journal = row.move;
  if (!journal) throw new Error(`no move of tenant "${tenantId}" is in progress: nothing to abort`);
  const dedicatedUrl = await hooks.dedicatedUrl();
  const [sourceUrl, targetUrl] = journal.direction === "extract" ? [poolUrl, dedicatedUrl] : [dedicatedUrl, poolUrl];
  if (journal.online) {
    if (!hooks.adminUrl) throw new Error(`the ${journal.direction} of "${tenantId}" is online: aborting it needs the replication admin connection (adminUrl)`);
    const admin = hooks.adminUrl;
    const open = <T>(url: string | undefined, work: (c: Client | undefined) => Promise<T>) =>
      (url ? admin(url).then((a) => withClient(a, work, "bloom-move-abort")) : work(undefined));
    await open(sourceUrl, (s) => open(targetUrl, (t) => dropReplication(s, t, journal.online!)));
    log(`dropped the replication of the online ${journal.direction} (subscription, slot, publication)`);
  }
  let deletedFromTarget = 0;
  // The target may not exist yet (killed before provisioning): then it holds nothing of the tenant.
  if (targetUrl && journal.step !== "begun") {
    deletedFromTarget = await withClient(targetUrl, async (c) => {
      const deleted = await deleteTenantRows(c, tenantId, { log });
      if (journal.bulkLoad) await restoreAfterBulkLoad(c, journal.bulkLoad); // the target's schema as it was
      if (journal.direction === "extract") await c.query(`DELETE FROM "public"."clinic" WHERE "id" = $1`, [tenantId]);
      return Object.values(deleted).reduce((a, b) => a + b, 0);
    }, "bloom-move-abort");
  }
  if (sourceUrl) await withClient(sourceUrl, (c) => unfenceTenant(c, tenantId), "bloom-move-abort");
  await settleCatalogRow(pool, tenantId, journal.from, row.pendingPurge);
  await hooks.declare(journal.from.kind === "pool" ? "pooled" : "dedicated");
  log(`aborted the ${journal.direction} of ${tenantId}: ${deletedFromTarget} copied rows deleted from the target, the source unfenced`);
  return { direction: journal.direction, deletedFromTarget };
}
