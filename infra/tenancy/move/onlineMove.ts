import { fenceTenant } from "../tenantFence";
import { tenantDataTables } from "../tenantPolicies";
import type { Client } from "pg";
import { withClient } from "../../database/sql/withClient";
import { MoveRefused, VerificationFailed, type MoveStep } from "./moveRunner";
import { executeMove, type MovePlan, type MoveRun, type TenantMoveOptions } from "./moveRun";
import { clearTarget, cutover, declare, liftFence, preflight, provision, verify } from "./moveSteps";
import { refusal, type MoveSummary } from "./tenantMove";
import {
  confirmedPast, currentLsn, dropReplication, ensurePublication, ensureSubscription, replicationNames,
  replicationReadiness, streamLag, subscriptionExists, tablesWithoutTenantIdentity, type ReplicationNames,
} from "./replication";
import { byteRate, copyTenantTables, createSlotExportingSnapshot } from "./snapshotCopy";
import { bulkLoadPlan, relaxForBulkLoad, restoreAfterBulkLoad } from "./bulkLoad";
import { deleteTenantRows } from "./purgeCopy";
import { copyClinicRow, sameFingerprint, tenantTableFingerprint, type TableCopyResult, type TableFingerprint } from "./tableCopy";
import { capturedChanges, identityColumns, installChangeCapture } from "./changeCapture";
import { commitProbe, startImpactThrottle } from "./impactThrottle";
import { foreignKeyLevels } from "./tableOrder";
import { moveSequences } from "./sequences";

/**
 * An online move (`--online`): the tenant keeps writing while its rows stream to the target through row-filtered
 * logical replication; the write freeze is only the last stretch. Its plan, over the steps it shares with the copy
 * mode (moveSteps.ts):
 *   declare → provision → preflight → replicate (publication + slot + initial copy, verified as it loads, + change
 *   capture + subscription) → catch up → fence → confirm (the subscriber has the source's LSN at the fence) →
 *   sequences → verify (the rows changed since the copy) → drop replication → cutover.
 * Any failure undoes it (a kept slot would retain WAL at the source until someone came back); a killed move is
 * resumed by a rerun, or undone by `bloom tenants abort`.
 */
export interface OnlineMoveOptions extends TenantMoveOptions {
  adminUrl(databaseUrl: string): Promise<string>;
  /** Catch-up is done when the subscriber is this close to the source (bytes of WAL); then the fence. */
  maxLagBytes?: number;
  /** How long to wait for the subscriber to confirm the fence's LSN before giving up. */
  confirmTimeoutMs?: number;
  /** Progress line cadence while catching up. */
  progressEveryMs?: number;
  /** A rate limit for the initial copy (MB/s, all tables together): less load on the source while it streams. */
  copyRateMBps?: number;
  /**
   * The initial copy waits while a write probe at the source is slower than this multiple of its latency before
   * the copy (impactThrottle.ts); default DEFAULT_MAX_IMPACT, 0: never throttled.
   */
  maxImpact?: number;
  /**
   * Compare every row under the fence, not only those changed since the verified copy: what moves did before
   * issue 21; the freeze then grows with the tenant's size (bench:extract runs both, interleaved).
   */
  verifyEveryRowUnderFence?: boolean;
}

export interface OnlineMoveSummary extends Omit<MoveSummary, "tables" | "bytes"> {
  tables: ({ table: string } & TableFingerprint)[];
  /** From the start of the stream to the fence: the tenant wrote freely. */
  streamMs: number;
  /** Waiting for the subscriber to confirm the fence's LSN (part of the freeze). */
  confirmMs: number;
  /** The steps under the fence and their durations (ms), in order: where the freeze went. */
  freezeSteps: Record<string, number>;
}

type Step = MoveStep<MoveRun>;
const settings = (m: MoveRun) => m.opts as OnlineMoveOptions;
const names = (m: MoveRun): ReplicationNames => m.journal.online!;

/**
 * The initial copy, from scratch (a copy a crash interrupted cannot be resumed: its snapshot died with the
 * connection that exported it): whatever the last attempt left is removed — slot, publication, rows in the target,
 * a relaxed schema put back — then publication, a slot exporting its snapshot, and the copy as of that snapshot;
 * into an empty target in bulk (keys, indexes and foreign keys rebuilt after), else row by row in FK order, each
 * table fingerprinted on both sides in the copy's own transactions (the source at the snapshot, the target as
 * loaded: equal, or the move fails); then the target's change capture, and the subscription, which streams from
 * the slot's position on. Done once the subscription exists.
 */
const replicate: Step = {
  name: "replicate",
  async run(m) {
    m.streamStartedAt = Date.now();
    const [source, target, sourceAdmin, targetAdmin, tables] = [await m.client("source"), await m.client("target"), await m.client("sourceAdmin"), await m.client("targetAdmin"), await m.tables()];
    if (await subscriptionExists(targetAdmin, names(m).subscription)) return;
    const sourceAdminUrl = await m.adminUrl("source");
    await dropReplication(sourceAdmin, undefined, names(m));
    // Rows first, then the schema: a half-copied relaxed target would fail its foreign keys' validation.
    const left = Object.values(await deleteTenantRows(target, m.tenantId)).reduce((a, b) => a + b, 0);
    if (left) m.log(`removed ${left} rows an interrupted copy left in the target`);
    if (m.journal.bulkLoad) await restoreAfterBulkLoad(target, m.journal.bulkLoad);
    await copyClinicRow(source, target, m.tenantId);
    await ensurePublication(sourceAdmin, names(m).publication, tables, m.tenantId);
    const slot = await createSlotExportingSnapshot(sourceAdminUrl, names(m).slot, m.lease?.sessionTag);
    try {
      const rate = settings(m).copyRateMBps;
      m.log(`slot ${names(m).slot} at ${slot.consistentPoint}; copying ${tables.length} tables as of its snapshot${rate ? ` at ≤ ${rate} MB/s` : ""}`);
      const bulkLoad = await bulkLoadPlan(target, tables);
      await m.note({ bulkLoad }); // durable before the schema is relaxed: the undo puts it back
      if (bulkLoad) await relaxForBulkLoad(target, bulkLoad);
      const levels = bulkLoad ? [tables] : await foreignKeyLevels(source, tables);
      const targetUrl = await m.requiredUrl("target");
      const copied = await withThrottle(m, (pace) => copyTenantTables({
        sourceUrl: sourceAdminUrl, targetUrl, tenantId: m.tenantId, snapshot: slot.snapshot, levels,
        concurrency: m.opts.concurrency ?? 3, pace, log: m.log, session: m.lease, fingerprint: true,
      }));
      if (bulkLoad) await restoreAfterBulkLoad(target, bulkLoad);
      await m.note({ copyVerified: verifiedAsLoaded(m.tenantId, copied) });
    } finally {
      await slot.close();
    }
    await installChangeCapture(targetAdmin, names(m).subscription, m.tenantId, tables);
    await ensureSubscription(targetAdmin, names(m), sourceAdminUrl);
    m.log(`streaming ${tables.length} tables of ${m.tenantId} from the copy's snapshot on, while it keeps writing`);
  },
  async undo(m) {
    // The stream stops first: nothing streams into rows being deleted, and no WAL stays retained.
    const [sourceAdmin, targetAdmin] = await Promise.all([m.optionalClient("sourceAdmin"), m.optionalClient("targetAdmin")]);
    await dropReplication(sourceAdmin, targetAdmin, names(m));
    m.log(`dropped the replication of the online ${m.direction} (subscription, slot, publication)`);
    await clearTarget(m);
  },
};

export const DEFAULT_MAX_IMPACT = 2;

/** The copy under its limits: `--copy-rate`, and the impact throttle on a probe connection of its own. */
async function withThrottle<T>(m: MoveRun, copy: (pace: ((bytes: number) => Promise<void>) | undefined) => Promise<T>): Promise<T> {
  const rate = settings(m).copyRateMBps ? byteRate(settings(m).copyRateMBps!) : undefined;
  const maxImpact = settings(m).maxImpact ?? DEFAULT_MAX_IMPACT;
  if (!maxImpact) return copy(rate);
  return withClient(await m.requiredUrl("source"), async (probe) => {
    const throttle = await startImpactThrottle({ probe: commitProbe(probe), maxImpact, log: m.log });
    try {
      const result = await copy(async (bytes) => {
        await throttle.pace(bytes);
        await rate?.(bytes);
      });
      if (throttle.waitedMs) m.log(`the copy waited ${(throttle.waitedMs / 1000).toFixed(1)} s for the source (probe budget ${throttle.budgetMs.toFixed(1)} ms)`);
      return result;
    } finally {
      throttle.stop();
    }
  }, m.lease?.sessionTag ?? "bloom-move-probe");
}

/** The copy's fingerprints, equal on both sides table by table, or a final VerificationFailed naming the tables. */
function verifiedAsLoaded(tenantId: string, copied: TableCopyResult[]): Record<string, TableFingerprint> {
  const mismatched = copied.filter((r) => !sameFingerprint(r.fingerprints!.source, r.fingerprints!.target));
  if (mismatched.length) {
    throw new VerificationFailed(`verification of the copy failed for tenant "${tenantId}": ${mismatched.map((r) => `${r.table} (source ${r.fingerprints!.source.rows} rows at the snapshot, target ${r.fingerprints!.target.rows} loaded)`).join("; ")}`);
  }
  return Object.fromEntries(copied.map((r) => [r.table, r.fingerprints!.source]));
}

/**
 * Under the fence, only what the stream changed: the rows whose keys the target's capture recorded, compared
 * between source and target (count and checksum of exactly those rows). Every other row of the target is as the
 * copy loaded it — equal to the source at the copy's snapshot — and unchanged at the source since (a change there
 * would have streamed in and been captured), so this proves the same as comparing every row. A table's row count
 * follows: the copy's, less the captured keys that had a row when it loaded, plus those that have one now.
 */
const verifyChangesSinceCopy: Step = {
  name: "verify",
  async run(m) {
    const copied = m.journal.copyVerified;
    // Begun before copies were verified as they loaded (or asked to): every row, as then.
    if (!copied || settings(m).verifyEveryRowUnderFence) return verify.run(m);
    const [source, target, tables] = [await m.client("source"), await m.client("target"), await m.tables()];
    const verified: Record<string, TableFingerprint> = {};
    const mismatched: string[] = [];
    let changed = 0;
    for (const table of tables) {
      const changes = await capturedChanges(target, names(m).subscription, table);
      const atCopy = copied[table]!;
      let now = { rows: 0, checksum: "0" };
      if (changes.keys.length) {
        const only = { columns: await identityColumns(target, table), values: changes.keys };
        const [s, d] = await Promise.all([tenantTableFingerprint(source, table, m.tenantId, only), tenantTableFingerprint(target, table, m.tenantId, only)]);
        if (!sameFingerprint(s, d)) mismatched.push(`${table} (of ${changes.keys.length} rows changed since the copy: source ${s.rows}, target ${d.rows})`);
        now = s;
      }
      changed += changes.keys.length;
      verified[table] = { rows: atCopy.rows - changes.loaded + now.rows, checksum: atCopy.checksum, changedSinceCopy: changes.keys.length };
    }
    if (mismatched.length) throw new VerificationFailed(`verification failed for tenant "${m.tenantId}": ${mismatched.join("; ")}`);
    m.log(`verified ${tables.length} tables: the copy equal to the source at its snapshot, and the ${changed} rows changed since equal in source and target`);
    return { verified };
  },
};

/** Until the stream is within `maxLagBytes` of the source; the lag printed on the way. */
const catchUp: Step = {
  name: "catch-up",
  async run(m) {
    const sourceAdmin = await m.client("sourceAdmin");
    const [maxLag, every] = [settings(m).maxLagBytes ?? 1_000_000, settings(m).progressEveryMs ?? 2_000];
    for (let lastLog = 0; ;) {
      const lag = await streamLag(sourceAdmin, names(m));
      if (lag.bytes <= maxLag) return;
      if (Date.now() - lastLog >= every) {
        lastLog = Date.now();
        m.log(`catching up: lag ${(lag.bytes / 1e6).toFixed(2)} MB${lag.seconds === null ? "" : `, ${lag.seconds.toFixed(2)} s`}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  },
};

/** The source refuses the tenant's writes from here; the WAL position right after is what the subscriber must confirm. */
const fenceForStream: Step = {
  name: "fence",
  async run(m) {
    await fenceTenant(await m.client("source"), m.tenantId, "moving");
    const fenceLsn = await currentLsn(await m.client("sourceAdmin")); // after the fence committed: no write of the tenant can follow it
    m.log(`fenced ${m.tenantId} at ${fenceLsn}: waiting for the subscriber to confirm it`);
    return { fencedAt: new Date().toISOString(), fenceLsn };
  },
  undo: liftFence,
};

const confirm: Step = {
  name: "confirm",
  async run(m) {
    const sourceAdmin = await m.client("sourceAdmin");
    const timeoutMs = settings(m).confirmTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    while (!(await confirmedPast(sourceAdmin, names(m).slot, m.journal.fenceLsn!))) {
      if (Date.now() > deadline) throw new Error(`the subscriber has not confirmed the source's LSN ${m.journal.fenceLsn} after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 10));
    }
  },
};

/** Replication carries rows, not sequence positions: the target's sequences set past the source's. */
const sequences: Step = {
  name: "sequences",
  async run(m) {
    const moved = await moveSequences(await m.client("source"), await m.client("target"), await m.tables());
    if (moved.length) m.log(`sequences set in the target: ${moved.join(", ")}`);
  },
};

const dropStream: Step = {
  name: "drop-replication",
  run: async (m) => dropReplication(await m.client("sourceAdmin"), await m.client("targetAdmin"), names(m)),
};

export const onlinePlan: MovePlan = {
  online: true,
  steps: [declare, provision, preflight, replicate, catchUp, fenceForStream, confirm, sequences, verifyChangesSinceCopy, dropStream, cutover],
  undoOn: "any",
  begin: (journal, tenantId) => ({ ...journal, online: replicationNames(tenantId, journal.startedAt) }),
  check: (m) => checkSource(m),
};

const FROZEN_STEPS = onlinePlan.steps.slice(onlinePlan.steps.indexOf(fenceForStream) + 1).map((s) => s.name);

export async function runOnlineTenantMove(opts: OnlineMoveOptions): Promise<OnlineMoveSummary> {
  const run = await executeMove(onlinePlan, opts, (row) => refusal(row, opts.tenantId, opts.direction, true));
  const { journal } = run;
  const tables = Object.keys(journal.verified!).map((t) => ({ table: t, ...journal.verified![t]! }));
  const streamMs = run.resumed || !run.streamStartedAt ? 0 : Date.parse(journal.fencedAt!) - run.streamStartedAt;
  run.log(`cutover: ${opts.tenantId} now lives in its new home; replication dropped (no slot left); the old copy is fenced and purged after ${run.purgeAfter}`);
  return {
    tenantId: opts.tenantId, direction: opts.direction, resumed: run.resumed, tables, rows: tables.reduce((n, t) => n + t.rows, 0),
    freezeMs: run.cutoverAt - Date.parse(journal.fencedAt!), copyMs: streamMs, verifyMs: run.durations.verify ?? 0,
    purgeAfter: run.purgeAfter, streamMs, confirmMs: run.durations.confirm ?? 0,
    freezeSteps: Object.fromEntries(FROZEN_STEPS.filter((s) => s in run.durations).map((s) => [s, run.durations[s]!])),
  };
}

/** Refuses, before anything changes, a source that cannot publish the tenant's changes, naming what to set. */
async function checkSource(m: MoveRun): Promise<void> {
  const sourceUrl = await m.requiredUrl("source");
  const sourceAdminUrl = await m.adminUrl("source");
  await withClient(sourceUrl, async (source: Client) => {
    const tables = await tenantDataTables(source);
    const problems = (await withClient(sourceAdminUrl, (admin) => replicationReadiness(admin), "bloom-move-check")).problems;
    const missing = await tablesWithoutTenantIdentity(source, tables);
    if (missing.length) problems.push(`tables without a replica identity on (clinic_id, …): ${missing.join(", ")}: deploy the migrations (20261204000000_tenant_replica_identity), or set one on a table added since`);
    if (problems.length) throw new MoveRefused(`cannot move tenant "${m.tenantId}" online; nothing was changed:\n  - ${problems.join("\n  - ")}\nor move it without --online (copy mode: its writes pause for the whole copy)`);
  }, "bloom-move-check");
}
