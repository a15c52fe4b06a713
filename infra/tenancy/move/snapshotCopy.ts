import { Client } from "pg";
import { mapAllWithLimit } from "../../concurrency";
import { quietClient, withClient } from "../../database/sql/withClient";
import { quoteIdent } from "../../naming";
import { copyTenantTable, describeCopy, type TableCopyResult } from "./tableCopy";
import type { MoveSessionGuard } from "./moveLease";

/**
 * An online move's initial copy: the slot is made over a replication connection that exports its snapshot, and
 * every table is copied in a transaction that imports it — exactly the rows the stream starts after, so no change
 * is applied twice or missed. Copying ourselves (rather than letting the subscription do it) lets the copy load a
 * new database in bulk and run at a set rate. The exported snapshot lives only while that connection does: a copy
 * interrupted by a crash is started again from a new slot.
 */
export interface ExportedSlot {
  snapshot: string;
  consistentPoint: string;
  close(): Promise<void>;
}

export async function createSlotExportingSnapshot(sourceAdminUrl: string, slot: string, applicationName = "bloom-move-slot"): Promise<ExportedSlot> {
  const replication = quietClient({ connectionString: sourceAdminUrl, replication: "database", application_name: applicationName } as ConstructorParameters<typeof Client>[0]);
  await replication.connect();
  try {
    const { rows } = await replication.query<{ snapshot_name: string; consistent_point: string }>(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput (SNAPSHOT 'export')`);
    return { snapshot: rows[0]!.snapshot_name, consistentPoint: rows[0]!.consistent_point, close: () => replication.end() };
  } catch (err) {
    await replication.end().catch(() => undefined);
    throw err;
  }
}

/** A shared byte-rate limit: each chunk waits for its turn so that all copies together stay at `mbPerSecond`. */
export function byteRate(mbPerSecond: number): (bytes: number) => Promise<void> {
  let next = Date.now();
  return async (bytes) => {
    const now = Date.now();
    const start = Math.max(next, now);
    next = start + (bytes / (mbPerSecond * 1e6)) * 1000;
    if (start > now) await new Promise((r) => setTimeout(r, start - now));
  };
}

/**
 * The tenant's rows of every table, levels in order (parents first), a level's tables `concurrency` at a time,
 * each on its own pair of connections: both moves' copy. `snapshot`: read as of an exported snapshot (the online
 * move, whose stream then starts where the copy ends); `skip`: tables a resumed move has copied already;
 * `onCopied`: after each table (the copy mode's journal); `fingerprint`: both sides fingerprinted in the copy's
 * transactions (copyTenantTable); `session`: the mover's lease, whose tag the connections
 * carry and which is checked before each table is written.
 */
export async function copyTenantTables(opts: {
  sourceUrl: string; targetUrl: string; tenantId: string; levels: string[][]; concurrency: number;
  snapshot?: string; skip?: (table: string) => boolean; pace?: (bytes: number) => Promise<void>; fingerprint?: boolean;
  onCopied?: (r: TableCopyResult) => Promise<void>; log: (l: string) => void; session?: MoveSessionGuard;
}): Promise<TableCopyResult[]> {
  const appName = opts.session?.sessionTag ?? "bloom-move-copy";
  const results: TableCopyResult[] = [];
  for (const level of opts.levels) {
    const todo = opts.skip ? level.filter((t) => !opts.skip!(t)) : level;
    results.push(...await mapAllWithLimit(todo, opts.concurrency, (table) =>
      withClient(opts.sourceUrl, (s) => withClient(opts.targetUrl, async (d) => {
        await opts.session?.check();
        if (opts.snapshot) {
          await s.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
          await s.query(`SET TRANSACTION SNAPSHOT '${opts.snapshot.replace(/[^0-9A-Fa-f-]/g, "")}'`);
        }
        const r = await copyTenantTable(s, d, table, opts.tenantId, { pace: opts.pace, fingerprint: opts.fingerprint });
        if (opts.snapshot) await s.query("COMMIT");
        await opts.onCopied?.(r);
        opts.log(describeCopy(r));
        return r;
      }, appName), appName)));
  }
  return results;
}
