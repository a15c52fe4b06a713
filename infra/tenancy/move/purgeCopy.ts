import type { Client } from "pg";
import { withClient } from "../../database/sql/withClient";
import { quoteIdent } from "../../naming";
import { isoSeconds } from "../../time";
import { tenantDataTables } from "../tenantPolicies";
import { clearPendingPurge, readCatalogRow, type TenantLocation } from "./moveJournal";
import { MoveLease } from "./moveLease";
import { foreignKeyLevels } from "./tableOrder";

/**
 * Deletes one tenant's rows from one database, children before parents, in batches each committed on its own
 * under a short lock_timeout (a batch that cannot get its locks waits and retries; the app is never blocked for
 * long). Resumable: a rerun deletes what is left. Returns the rows deleted per table.
 */
export async function deleteTenantRows(c: Client, tenantId: string, opts: { batch?: number; log?: (l: string) => void } = {}): Promise<Record<string, number>> {
  const batch = opts.batch ?? 5_000;
  const tables = await tenantDataTables(c);
  const deleted: Record<string, number> = {};
  await c.query("SET lock_timeout = '2s'");
  for (const level of (await foreignKeyLevels(c, tables)).reverse()) {
    for (const table of level) {
      const t = `"public".${quoteIdent(table)}`;
      deleted[table] = 0;
      for (let attempt = 0; ;) {
        try {
          const r = await c.query(`DELETE FROM ${t} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${t} WHERE "clinic_id" = $1 LIMIT $2))`, [tenantId, batch]);
          deleted[table] += r.rowCount ?? 0;
          if ((r.rowCount ?? 0) < batch) break;
        } catch (err) {
          if ((err as { code?: string }).code !== "55P03" || ++attempt > 10) throw err;
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
      if (deleted[table]) opts.log?.(`purged ${table}: ${deleted[table]} rows`);
    }
  }
  return deleted;
}

export interface PurgeResult {
  tenantId: string;
  location: TenantLocation;
  deleted: Record<string, number>;
  at: string;
}

/**
 * Purges the copy a finished move left at the tenant's old location, once its grace period is over (or `now`).
 * The clinic row there goes too; the fence stays, so a stale app instance still gets the retryable error.
 * Undefined when there is nothing (of that move) to purge.
 */
export async function purgeMovedCopy(poolUrl: string, tenantId: string, opts: {
  dedicatedUrl: () => Promise<string>;
  now?: boolean;
  /** Only the copy of this move (its `movedAt`): a scheduled purge leaves a later move's copy alone. */
  movedAt?: string;
  log?: (l: string) => void;
}): Promise<PurgeResult | undefined> {
  return withClient(poolUrl, async (pool) => {
    await MoveLease.hold(pool, tenantId);
    const row = await readCatalogRow(pool, tenantId);
    if (!row) throw new Error(`unknown tenant "${tenantId}": it is not in the pool's catalog`);
    const pending = row.pendingPurge;
    if (!pending || (opts.movedAt !== undefined && pending.movedAt !== opts.movedAt)) return undefined;
    if (!opts.now && Date.parse(pending.after) > Date.now()) {
      throw new Error(`tenant "${tenantId}"'s old copy is kept until ${pending.after} (the grace period): purge it then, or now with --now`);
    }
    const url = pending.location.kind === "pool" ? poolUrl : await opts.dedicatedUrl();
    const deleted = await withClient(url, async (c) => {
      const out = await deleteTenantRows(c, tenantId, { log: opts.log });
      await c.query(`DELETE FROM "public"."clinic" WHERE "id" = $1`, [tenantId]);
      return out;
    }, "bloom-purge");
    await clearPendingPurge(pool, tenantId);
    return { tenantId, location: pending.location, deleted, at: isoSeconds() };
  }, "bloom-purge");
}
