import type { Client } from "pg";
import { withClient } from "../../database/sql/withClient";
import { isoSeconds } from "../../time";
import { fenceTenant } from "../tenantFence";
import { tenantDataTables } from "../tenantPolicies";
import { saveJournal, type MoveJournal } from "./moveJournal";
import { abortHoldingLock } from "./abortMove";
import { copyClinicRow, type TableFingerprint } from "./tableCopy";
import { cutover, lockForMove, MoveRefused, newJournal, preflight, verify, type MoveSummary, type TenantMoveOptions } from "./tenantMove";
import {
  confirmedPast, currentLsn, dropReplication, ensurePublication, ensureSubscription, replicationNames,
  replicationReadiness, streamLag, subscriptionExists, tablesWithoutTenantIdentity, type ReplicationNames,
} from "./replication";
import { byteRate, copyTenantTables, createSlotExportingSnapshot } from "./snapshotCopy";
import { bulkLoadPlan, relaxForBulkLoad, restoreAfterBulkLoad } from "./bulkLoad";
import { deleteTenantRows } from "./purgeCopy";
import { foreignKeyLevels } from "./tableOrder";
import { moveSequences } from "./sequences";

/**
 * An online move (`--online`): the tenant keeps writing while its rows stream to the target through row-filtered
 * logical replication; the write freeze is only the last stretch:
 *   begin → declare → provision → publication + slot + subscription (initial copy, then the stream) → catch up →
 *   fence at the source → wait until the subscriber confirmed the source's LSN at the fence → sequences → verify →
 *   drop subscription, slot and publication → cutover (as in copy mode).
 * Journaled like the copy mode; a rerun resumes, `bloom tenants abort` drops the replication and undoes.
 */
export interface OnlineMoveOptions extends TenantMoveOptions {
  /**
   * A connection string, on the given database, of a role that may create publications, replication slots and
   * subscriptions (local: the server's superuser; Neon: the project owner, a neon_superuser). The target's
   * subscription reaches the source with the source's.
   */
  adminUrl(databaseUrl: string): Promise<string>;
  /** Catch-up is done when the subscriber is this close to the source (bytes of WAL); then the fence. */
  maxLagBytes?: number;
  /** How long to wait for the subscriber to confirm the fence's LSN before giving up (the tenant stays fenced). */
  confirmTimeoutMs?: number;
  /** Progress line cadence while catching up. */
  progressEveryMs?: number;
  /** A rate limit for the initial copy (MB/s, all tables together): less load on the source while it streams. */
  copyRateMBps?: number;
}

export interface OnlineMoveSummary extends Omit<MoveSummary, "tables" | "bytes"> {
  tables: ({ table: string } & TableFingerprint)[];
  /** From the start of the stream to the fence: the tenant wrote freely. */
  streamMs: number;
  /** Waiting for the subscriber to confirm the fence's LSN (part of the freeze). */
  confirmMs: number;
}

export async function runOnlineTenantMove(opts: OnlineMoveOptions): Promise<OnlineMoveSummary> {
  const { tenantId, direction } = opts;
  const log = opts.log ?? (() => undefined);
  return withClient(opts.poolUrl, async (pool) => {
    const row = await lockForMove(pool, opts, true);
    const resumed = Boolean(row.move);
    // The source is known before anything changes (return: the tenant's existing database): check it first.
    const earlySourceUrl = direction === "extract" ? opts.poolUrl : await opts.hooks.dedicatedUrl();
    if (!resumed) await checkSource(await opts.adminUrl(earlySourceUrl), earlySourceUrl, tenantId);
    const startedAt = isoSeconds();
    let journal: MoveJournal = row.move ?? { ...newJournal(row, opts, startedAt), online: replicationNames(tenantId, startedAt) };
    if (!resumed) await saveJournal(pool, tenantId, journal);
    const names = journal.online!;
    log(`${resumed ? "resuming" : "starting"} online ${direction} of ${tenantId}, last step: ${journal.step} (replication ${names.subscription})`);

    await opts.hooks.declare(direction === "extract" ? "dedicated" : "pooled");
    // Extract: this provisions the target. Return: the tenant's database, already looked up above.
    const dedicatedUrl = direction === "extract" ? await opts.hooks.dedicatedUrl() : earlySourceUrl;
    const [sourceUrl, targetUrl] = direction === "extract" ? [opts.poolUrl, dedicatedUrl] : [dedicatedUrl, opts.poolUrl];
    const [sourceAdminUrl, targetAdminUrl] = await Promise.all([opts.adminUrl(sourceUrl), opts.adminUrl(targetUrl)]);

    const within = <T>(work: (c: { source: Client; target: Client; sourceAdmin: Client; targetAdmin: Client }) => Promise<T>) =>
      withClient(sourceUrl, (source) => withClient(targetUrl, (target) => withClient(sourceAdminUrl, (sourceAdmin) =>
        withClient(targetAdminUrl, (targetAdmin) => work({ source, target, sourceAdmin, targetAdmin }), "bloom-move-admin"), "bloom-move-admin"), "bloom-move-target"), "bloom-move-source");

    const moving = within(async ({ source, target, sourceAdmin, targetAdmin }) => {
      const tables = await tenantDataTables(source);
      const streamStarted = Date.now();
      if (journal.step === "begun") {
        await preflight(source, target, tenantId);
        // Journaled before anything reaches the target, so an abort from here on clears what streamed in.
        await saveJournal(pool, tenantId, (journal = { ...journal, step: "replicating" }));
      }
      if (journal.step === "replicating") {
        if (!(await subscriptionExists(targetAdmin, names.subscription))) {
          journal = await initialCopy({ pool, source, target, sourceAdmin, sourceAdminUrl, targetUrl, tables, journal, opts, log });
          await ensureSubscription(targetAdmin, names, sourceAdminUrl);
          log(`streaming ${tables.length} tables of ${tenantId} from the copy's snapshot on, while it keeps writing`);
        }
        await catchUp(sourceAdmin, names, opts.maxLagBytes ?? 1_000_000, opts.progressEveryMs ?? 2_000, log);
        await fenceTenant(source, tenantId, "moving");
        const fenceLsn = await currentLsn(sourceAdmin); // after the fence committed: no write of the tenant can follow it
        await saveJournal(pool, tenantId, (journal = { ...journal, step: "fenced", fencedAt: new Date().toISOString(), fenceLsn }));
        log(`fenced ${tenantId} at ${fenceLsn}: waiting for the subscriber to confirm it`);
      } else {
        await fenceTenant(source, tenantId, "moving");
      }
      const streamMs = resumed ? 0 : Date.parse(journal.fencedAt!) - streamStarted;
      let confirmMs = 0;
      let verifyMs = 0;
      let verified = journal.verified;
      if (journal.step === "fenced") {
        const confirmStarted = Date.now();
        await waitConfirmed(sourceAdmin, names, journal.fenceLsn!, opts.confirmTimeoutMs ?? 60_000);
        confirmMs = Date.now() - confirmStarted;
        const moved = await moveSequences(source, target, tables);
        if (moved.length) log(`sequences set in the target: ${moved.join(", ")}`);
        const verifyStarted = Date.now();
        verified = await verify(sourceUrl, targetUrl, tenantId, tables, opts.concurrency ?? 3);
        verifyMs = Date.now() - verifyStarted;
        await saveJournal(pool, tenantId, (journal = { ...journal, step: "verified", verified }));
        log(`verified ${tables.length} tables: row counts and checksums equal in source and target`);
      }
      await dropReplication(sourceAdmin, targetAdmin, names);
      const purgeAfter = await cutover(pool, source, target, tenantId, journal, opts.graceMs);
      const freezeMs = Date.now() - Date.parse(journal.fencedAt!);
      log(`cutover: ${tenantId} now lives in its new home; replication dropped (no slot left); the old copy is fenced and purged after ${purgeAfter}`);
      const summary = tables.map((t) => ({ table: t, ...verified![t]! }));
      return {
        tenantId, direction, resumed, tables: summary, rows: summary.reduce((n, t) => n + t.rows, 0),
        freezeMs, copyMs: streamMs, verifyMs, purgeAfter, streamMs, confirmMs,
      };
    });
    // A move that fails (as opposed to one killed, which a rerun resumes) undoes itself: its slot would otherwise
    // retain WAL at the source until someone came back to it. The error still surfaces; a rerun starts afresh.
    return moving.catch(async (err: unknown) => {
      if (err instanceof MoveRefused) throw err;
      log(`the online ${direction} of ${tenantId} failed (${(err as Error).message}); undoing it: dropping its replication, deleting what streamed into the target, lifting the fence`);
      await abortHoldingLock(pool, opts.poolUrl, tenantId, { declare: opts.hooks.declare, dedicatedUrl: opts.hooks.dedicatedUrl, adminUrl: opts.adminUrl }, log)
        .catch((undo: unknown) => log(`undoing failed too (${(undo as Error).message}): run \`bloom tenants abort ${tenantId}\``));
      throw err;
    });
  }, "bloom-move");
}

/** Refuses, before anything changes, a source that cannot publish the tenant's changes, naming what to set. */
async function checkSource(sourceAdminUrl: string, sourceUrl: string, tenantId: string): Promise<void> {
  await withClient(sourceUrl, async (source) => {
    const tables = await tenantDataTables(source);
    const problems = (await withClient(sourceAdminUrl, (admin) => replicationReadiness(admin), "bloom-move-check")).problems;
    const missing = await tablesWithoutTenantIdentity(source, tables);
    if (missing.length) problems.push(`tables without a replica identity on (clinic_id, …): ${missing.join(", ")}: deploy the migrations (20261204000000_tenant_replica_identity), or set one on a table added since`);
    if (problems.length) throw new MoveRefused(`cannot move tenant "${tenantId}" online; nothing was changed:\n  - ${problems.join("\n  - ")}\nor move it without --online (copy mode: its writes pause for the whole copy)`);
  }, "bloom-move-check");
}

/**
 * The initial copy, from scratch (a copy a crash interrupted cannot be resumed: its snapshot died with the
 * connection that exported it): whatever the last attempt left is removed — slot, publication, rows in the target,
 * a relaxed schema put back — then publication, a slot exporting its snapshot, and the copy as of that snapshot;
 * into an empty target in bulk (keys, indexes and foreign keys rebuilt after), else row by row in FK order.
 */
async function initialCopy(c: {
  pool: Client; source: Client; target: Client; sourceAdmin: Client; sourceAdminUrl: string; targetUrl: string; tables: string[];
  journal: MoveJournal; opts: OnlineMoveOptions; log: (l: string) => void;
}): Promise<MoveJournal> {
  const { tenantId } = c.opts;
  const names = c.journal.online!;
  let journal = c.journal;
  await dropReplication(c.sourceAdmin, undefined, names);
  // Rows first, then the schema: a half-copied relaxed target would fail its foreign keys' validation.
  const left = Object.values(await deleteTenantRows(c.target, tenantId)).reduce((a, b) => a + b, 0);
  if (left) c.log(`removed ${left} rows an interrupted copy left in the target`);
  if (journal.bulkLoad) await restoreAfterBulkLoad(c.target, journal.bulkLoad);
  await copyClinicRow(c.source, c.target, tenantId);
  await ensurePublication(c.sourceAdmin, names.publication, c.tables, tenantId);
  const slot = await createSlotExportingSnapshot(c.sourceAdminUrl, names.slot);
  try {
    c.log(`slot ${names.slot} at ${slot.consistentPoint}; copying ${c.tables.length} tables as of its snapshot${c.opts.copyRateMBps ? ` at ≤ ${c.opts.copyRateMBps} MB/s` : ""}`);
    const bulkLoad = await bulkLoadPlan(c.target, c.tables);
    await saveJournal(c.pool, tenantId, (journal = { ...journal, bulkLoad }));
    if (bulkLoad) await relaxForBulkLoad(c.target, bulkLoad);
    const levels = bulkLoad ? [c.tables] : await foreignKeyLevels(c.source, c.tables);
    await copyTenantTables({
      sourceUrl: c.sourceAdminUrl, targetUrl: c.targetUrl, tenantId, snapshot: slot.snapshot, levels,
      concurrency: c.opts.concurrency ?? 3, pace: c.opts.copyRateMBps ? byteRate(c.opts.copyRateMBps) : undefined, log: c.log,
    });
    if (bulkLoad) await restoreAfterBulkLoad(c.target, bulkLoad);
  } finally {
    await slot.close();
  }
  return journal;
}

/** Until the stream is within `maxLagBytes` of the source; the lag printed on the way. */
async function catchUp(sourceAdmin: Client, names: ReplicationNames, maxLagBytes: number, everyMs: number, log: (l: string) => void): Promise<void> {
  let lastLog = 0;
  for (;;) {
    const lag = await streamLag(sourceAdmin, names);
    if (lag.bytes <= maxLagBytes) return;
    if (Date.now() - lastLog >= everyMs) {
      lastLog = Date.now();
      log(`catching up: lag ${(lag.bytes / 1e6).toFixed(2)} MB${lag.seconds === null ? "" : `, ${lag.seconds.toFixed(2)} s`}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitConfirmed(sourceAdmin: Client, names: ReplicationNames, lsn: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await confirmedPast(sourceAdmin, names.slot, lsn))) {
    if (Date.now() > deadline) {
      throw new Error(`the subscriber has not confirmed the source's LSN ${lsn} after ${timeoutMs / 1000} s; the tenant stays fenced: rerun to keep waiting, or \`bloom tenants abort\``);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
