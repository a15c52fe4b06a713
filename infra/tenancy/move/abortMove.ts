import { withClient } from "../../database/sql/withClient";
import { readCatalogRow } from "./moveJournal";
import { MoveLease } from "./moveLease";
import { MoveRun, undoMove, type MoveHooks } from "./moveRun";
import { copyModePlan } from "./moveSteps";
import { onlinePlan } from "./onlineMove";

/**
 * Undoes a move that has not cut over: the runner undoes its running and completed steps, last first — an online
 * move's subscription, slot and publication dropped (no WAL retained, nothing streams into rows being deleted), the
 * rows copied into the target deleted, the tenant's fence at the source lifted, the stack config and the catalog put
 * back as they were. The source was never changed, so nothing of the tenant's data is lost. Refused when no move is
 * in progress.
 */
export interface AbortHooks extends Pick<MoveHooks, "declare" | "dedicatedUrl"> {
  /** Online moves: the replication admin's connection string on a database (see TenantMoveOptions.adminUrl). */
  adminUrl?(databaseUrl: string): Promise<string>;
}

export async function abortTenantMove(poolUrl: string, tenantId: string, hooks: AbortHooks, log: (l: string) => void = () => undefined): Promise<{ direction: string; deletedFromTarget: number }> {
  return withClient(poolUrl, async (pool) => {
    const lease = await MoveLease.hold(pool, tenantId);
    await lease.endEarlierHolders(pool, log);
    const row = await readCatalogRow(pool, tenantId);
    if (!row) throw new Error(`unknown tenant "${tenantId}": it is not in the pool's catalog`);
    const journal = row.move;
    if (!journal) throw new Error(`no move of tenant "${tenantId}" is in progress: nothing to abort`);
    const opts = {
      tenantId, direction: journal.direction, poolUrl, graceMs: 0, log, adminUrl: hooks.adminUrl,
      dedicated: (journal.direction === "extract" ? journal.to : journal.from) as Extract<typeof journal.to, { kind: "dedicated" }>,
      hooks: { ...hooks, provisionDedicated: () => Promise.reject(new Error("an abort provisions nothing")) },
    };
    const run = new MoveRun(pool, opts, row, journal, lease);
    try {
      await undoMove(journal.online ? onlinePlan : copyModePlan, run);
    } finally {
      await run.close();
    }
    const deletedFromTarget = run.deletedFromTarget;
    log(`aborted the ${journal.direction} of ${tenantId}: ${deletedFromTarget} copied rows deleted from the target, the source unfenced`);
    return { direction: journal.direction, deletedFromTarget };
  }, "bloom-move-abort");
}
