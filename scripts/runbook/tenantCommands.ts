import { withClient } from "../../infra/database/sql/withClient";
import { quoteIdent } from "../../infra/naming";
import { abortTenantMove } from "../../infra/tenancy/move/abortMove";
import { listCatalog, readCatalogRow, type MoveDirection } from "../../infra/tenancy/move/moveJournal";
import { purgeMovedCopy } from "../../infra/tenancy/move/purgeCopy";
import { refusal, runTenantMove, MoveRefused, type MoveHooks, type MoveSummary, type TenantMoveOptions } from "../../infra/tenancy/move/tenantMove";
import { runOnlineTenantMove, type OnlineMoveSummary } from "../../infra/tenancy/move/onlineMove";
import { replicationAdmin, replicationAdminUrl, replicationLag } from "./replicationAdmin";
import { tenantDataTables } from "../../infra/tenancy/tenantPolicies";
import { confirm } from "./confirm";
import type { Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";
import type { DescribePurges, PurgeScheduling, SchedulePurge } from "../controlPlane/purgeSchedule";
import type { MoveOnControlPlane } from "../controlPlane/moveWorkflow";
import { declareIsolation, tenantHandle, tenantStackUrl, upRecovering, upTenantStack } from "./tenantStackAccess";

/**
 * `bloom tenants extract|return <id>`, `purge <id>`, `abort <id>`, `status`: the tenant lifecycle's moves
 * (infra/tenancy/move). Config is the desired state: a move sets the tenant's `isolation` in the stack file as it
 * starts (an abort puts it back); the catalog follows at the cutover.
 */
export interface MoveCommandOptions {
  yes?: boolean;
  dryRun?: boolean;
  /** Online: row-filtered logical replication while the tenant keeps writing; the freeze is only the cutover. */
  online?: boolean;
  /** Online: a cap on the initial copy (MB/s), less load on the source while the tenant streams. */
  copyRateMBps?: number;
  /** Online: the copy waits while a write at the source is slower than this multiple of before (0: never). */
  maxImpact?: number;
  /** Neon: consent to turning logical replication on for the source project (irreversible; computes restart). */
  enableLogicalReplication?: boolean;
  /** Kept before the old copy may be purged; 0 purges right after the cutover. */
  graceMs: number;
  /** Hands the purge due after the grace period to the control plane (the CLI's durable timer); without it, the
   *  operator runs `bloom tenants purge` then. */
  schedulePurge?: SchedulePurge;
  /** `--workflow`: the move runs on the control plane (a worker), followed here unless `detach`. */
  workflow?: { run: MoveOnControlPlane; detach: boolean };
  say: Say;
}

/** The throughput the estimate assumes (bench:extract measures the real one). */
const ASSUMED_MB_PER_S = 40;

export async function moveTenantCommand(ctx: StackContext, tenantId: string, direction: MoveDirection, opts: MoveCommandOptions): Promise<MoveSummary | OnlineMoveSummary | undefined> {
  const handle = tenantHandle(ctx, tenantId);
  const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
  // Refusals first, before anything changes (the move checks again under its lock).
  const row = await withClient(poolUrl, (c) => readCatalogRow(c, tenantId));
  const refused = refusal(row, tenantId, direction, opts.online ?? false);
  if (refused) throw new MoveRefused(refused);
  const sourceUrl = direction === "extract" ? poolUrl : await tenantStackUrl(handle);
  const plan = await tenantRowPlan(sourceUrl, tenantId);
  const mb = plan.reduce((n, t) => n + t.bytes, 0) / 1e6;
  opts.say(`plan: ${direction} ${tenantId}: ${direction === "extract" ? `pool → ${handle.dedicated.stack} (project ${handle.dedicated.project})` : `${handle.dedicated.stack} → pool`}${row?.move ? ` — resuming from step ${row.move.step}` : ""}`);
  for (const t of plan) opts.say(`  ${t.table.padEnd(16)} ${String(t.rows).padStart(10)} rows  ${(t.bytes / 1e6).toFixed(1).padStart(8)} MB`);
  const provision = direction === "extract" ? "; up the platform and the tenant stack" : "";
  const admin = opts.online ? await replicationAdmin(ctx, handle, direction, sourceUrl, opts) : undefined;
  if (admin) {
    opts.say(`  total: ${plan.reduce((n, t) => n + t.rows, 0)} rows, ${mb.toFixed(1)} MB; online: the tenant keeps writing while they stream; the freeze is the catch-up check, verify and cutover (seconds)`);
    opts.say(`  source server: ${admin.readiness.problems.length ? admin.readiness.problems.join("; ") : `wal_level ${admin.readiness.walLevel}, slots and senders free`}`);
    opts.say(`  steps: set isolation: ${direction === "extract" ? "dedicated" : "pooled"} in ${ctx.configFile}${provision}; publication + slot; initial copy, verified as it loads; change capture + subscription; catch up; fence; confirm LSN; verify the rows changed since the copy; drop replication; cutover; purge of the old copy after ${Math.round(opts.graceMs / 3_600_000)} h`);
    if (admin.readiness.problems.length && !opts.dryRun) throw new MoveRefused(`cannot move ${tenantId} online; nothing was changed: ${admin.readiness.problems.join("; ")}`);
  } else {
    opts.say(`  total: ${plan.reduce((n, t) => n + t.rows, 0)} rows, ${mb.toFixed(1)} MB; estimated write freeze ~${Math.max(1, Math.ceil(mb / ASSUMED_MB_PER_S * 2))} s (copy + verify at ~${ASSUMED_MB_PER_S} MB/s)`);
    opts.say(`  steps: set isolation: ${direction === "extract" ? "dedicated" : "pooled"} in ${ctx.configFile}${provision}; fence; copy; verify; cutover; purge of the old copy after ${Math.round(opts.graceMs / 3_600_000)} h`);
  }
  if (opts.dryRun || !(await confirm(`${direction === "extract" ? "Extract" : "Return"} ${tenantId}${admin ? " online" : ""}?`, opts.yes ?? false))) return undefined;
  if (admin?.enable) await admin.enable();
  if (opts.workflow) {
    const { run, detach } = opts.workflow;
    await run({ tenantId, direction, online: Boolean(admin), graceMs: opts.graceMs, ...(opts.copyRateMBps ? { copyRateMBps: opts.copyRateMBps } : {}), ...(opts.maxImpact !== undefined ? { maxImpact: opts.maxImpact } : {}) }, { detach });
    return undefined;
  }

  const move: TenantMoveOptions = { tenantId, direction, poolUrl, dedicated: handle.dedicated, graceMs: opts.graceMs, log: opts.say, hooks: moveHooks(ctx, tenantId, opts.say) };
  const summary = admin ? await runOnlineTenantMove({ ...move, adminUrl: admin.adminUrl, copyRateMBps: opts.copyRateMBps, maxImpact: opts.maxImpact }) : await runTenantMove(move);
  for (const t of summary.tables) {
    const since = t.changedSinceCopy === undefined ? "" : ` (of the copy, at its snapshot; ${t.changedSinceCopy} rows changed since, compared under the fence)`;
    opts.say(`  ${t.table.padEnd(16)} ${String(t.rows).padStart(10)} rows  checksum ${t.checksum}${since}`);
  }
  if ("streamMs" in summary) {
    opts.say(`write freeze: ${(summary.freezeMs / 1000).toFixed(2)} s (fence → cutover; confirm ${(summary.confirmMs / 1000).toFixed(2)} s, verify ${(summary.verifyMs / 1000).toFixed(2)} s); the tenant wrote freely for ${(summary.streamMs / 1000).toFixed(1)} s of streaming`);
    opts.say(`done: ${summary.rows} rows moved online${summary.resumed ? " (resumed)" : ""}`);
  } else {
    opts.say(`write freeze: ${(summary.freezeMs / 1000).toFixed(2)} s (fence → cutover; copy ${(summary.copyMs / 1000).toFixed(2)} s, verify ${(summary.verifyMs / 1000).toFixed(2)} s)`);
    opts.say(`done: ${summary.rows} rows, ${(summary.bytes / 1e6).toFixed(1)} MB moved${summary.resumed ? " (resumed)" : ""}`);
  }
  if (opts.graceMs === 0) await purgeCommand(ctx, tenantId, { now: true, say: opts.say });
  else await handOverPurge(poolUrl, tenantId, summary.purgeAfter, opts);
  return summary;
}

/** How a move changes the stack: its config file's isolation, and the platform's and the tenant stack's `up`. */
export function moveHooks(ctx: StackContext, tenantId: string, say: Say): MoveHooks {
  const handle = tenantHandle(ctx, tenantId);
  return {
    declare: async (isolation) => {
      if (await declareIsolation(ctx, tenantId, isolation)) say(`${ctx.configFile}: ${tenantId} isolation: ${isolation}`);
    },
    provisionDedicated: async () => {
      say(`platform stack ${ctx.stackName}: up (publishes ${tenantId} as dedicated; the catalog moves only at the cutover)`);
      await upRecovering(ctx.stack, say);
      return upTenantStack(handle, say);
    },
    dedicatedUrl: () => tenantStackUrl(handle).catch(() => undefined),
  };
}

/** After a move with a grace period: its purge scheduled on the control plane, or the command to run when due. */
async function handOverPurge(poolUrl: string, tenantId: string, after: string, opts: MoveCommandOptions): Promise<void> {
  const pending = (await withClient(poolUrl, (c) => readCatalogRow(c, tenantId)))?.pendingPurge;
  const scheduling: PurgeScheduling = !pending ? { scheduled: false, why: "no old copy is pending" }
    : !opts.schedulePurge ? { scheduled: false, why: "this command has no control plane" }
    : await opts.schedulePurge({ tenantId, movedAt: pending.movedAt, after: pending.after }).catch((err: Error) => ({ scheduled: false as const, why: err.message }));
  if (scheduling.scheduled) {
    opts.say(`the old copy is fenced and kept until ${after}, then purged by the control plane with no command (workflow ${scheduling.workflowId}); \`bloom tenants purge ${tenantId} --now\` purges it earlier`);
  } else {
    opts.say(`the old copy is fenced and kept until ${after}: \`bloom tenants purge ${tenantId}\` then (not scheduled: ${scheduling.why})`);
  }
}

export async function purgeCommand(ctx: StackContext, tenantId: string, opts: { now?: boolean; dryRun?: boolean; say: Say }): Promise<void> {
  const handle = tenantHandle(ctx, tenantId);
  const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
  const row = await withClient(poolUrl, (c) => readCatalogRow(c, tenantId));
  if (!row?.pendingPurge) return opts.say(`tenant ${tenantId}: no old copy to purge`);
  opts.say(`plan: purge ${tenantId}'s copy in ${row.pendingPurge.location.kind === "pool" ? "the pool" : handle.dedicated.stack} (left by the move of ${row.pendingPurge.movedAt}, due ${row.pendingPurge.after})`);
  if (opts.dryRun) return;
  const res = await purgeMovedCopy(poolUrl, tenantId, { dedicatedUrl: () => tenantStackUrl(handle), now: opts.now, log: opts.say });
  if (res) opts.say(`purged ${Object.values(res.deleted).reduce((a, b) => a + b, 0)} rows of ${tenantId} at ${res.at}`);
}

export async function abortCommand(ctx: StackContext, tenantId: string, opts: { yes?: boolean; dryRun?: boolean; say: Say }): Promise<void> {
  const handle = tenantHandle(ctx, tenantId);
  const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
  const row = await withClient(poolUrl, (c) => readCatalogRow(c, tenantId));
  if (!row?.move) throw new Error(`no move of tenant "${tenantId}" is in progress: nothing to abort`);
  opts.say(`plan: undo the ${row.move.direction} of ${tenantId} (step ${row.move.step}, ${Object.keys(row.move.copied).length} tables copied): delete the copied rows from the target, lift the fence, put isolation back`);
  if (opts.dryRun || !(await confirm(`Abort the ${row.move.direction} of ${tenantId}?`, opts.yes ?? false))) return;
  await abortTenantMove(poolUrl, tenantId, {
    declare: async (isolation) => void (await declareIsolation(ctx, tenantId, isolation)),
    dedicatedUrl: () => tenantStackUrl(handle).catch(() => undefined),
    adminUrl: (db) => replicationAdminUrl(ctx, db),
  }, opts.say);
}

export async function tenantsStatus(ctx: StackContext, say: Say, describePurges?: DescribePurges): Promise<void> {
  const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
  const catalog = await withClient(poolUrl, listCatalog);
  const pending = catalog.flatMap((r) => (r.pendingPurge ? [{ tenantId: r.id, movedAt: r.pendingPurge.movedAt }] : []));
  const purges = describePurges ? await describePurges(pending).catch((err: Error) => new Map(pending.map((p) => [p.tenantId, `the control plane could not be asked (${err.message})`]))) : new Map<string, string>();
  for (const r of catalog) {
    const where = r.location.kind === "pool" ? "pool" : `${r.location.stack} (${r.location.project})`;
    const move = !r.move ? "" : r.move.online
      ? ` — online ${r.move.direction} in progress since ${r.move.startedAt}, step ${r.move.step}${await replicationLag(ctx, r.move.online.slot, poolUrl, r.move.direction, tenantHandle(ctx, r.id, { declared: false }))}`
      : ` — ${r.move.direction} in progress since ${r.move.startedAt}, step ${r.move.step}, ${Object.keys(r.move.copied).length} tables copied`;
    const purge = r.pendingPurge ? ` — old copy in ${r.pendingPurge.location.kind === "pool" ? "the pool" : "its dedicated database"}, purge due ${r.pendingPurge.after}${purges.has(r.id) ? `, ${purges.get(r.id)}` : ""}` : "";
    say(`${r.id.padEnd(24)} ${r.isolation.padEnd(10)} ${where}${move}${purge}`);
  }
}

/** Rows and bytes per tenant table at the source: the dry run's plan. */
export async function tenantRowPlan(url: string, tenantId: string): Promise<{ table: string; rows: number; bytes: number }[]> {
  return withClient(url, async (c) => {
    const out: { table: string; rows: number; bytes: number }[] = [];
    for (const table of await tenantDataTables(c)) {
      const { rows } = await c.query<{ n: string; b: string }>(`SELECT count(*) AS n, coalesce(sum(pg_column_size(t.*)), 0) AS b FROM "public".${quoteIdent(table)} t WHERE "clinic_id" = $1`, [tenantId]);
      out.push({ table, rows: Number(rows[0]!.n), bytes: Number(rows[0]!.b) });
    }
    return out;
  }, "bloom-move-plan");
}

/** `--grace 7d | 12h | 30m | 45s | 0` in milliseconds. */
export function parseGrace(value: string | undefined): number {
  if (value === undefined) return 7 * 86_400_000;
  const m = /^(\d+)([dhms]?)$/.exec(value.trim());
  if (!m) throw new Error(`--grace "${value}": give a duration like 7d, 12h, 30m, 45s or 0`);
  return Number(m[1]) * ({ d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, "": 86_400_000 } as Record<string, number>)[m[2]!]!;
}

/** `--max-impact 2` (a ratio >= 1, or 0: no throttle) or undefined (the default). */
export function parseMaxImpact(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ratio = value.trim() === "" ? Number.NaN : Number(value);
  if (!Number.isFinite(ratio) || !(ratio === 0 || ratio >= 1)) {
    throw new Error(`--max-impact "${value}": give how much slower a write at the source may get while the initial copy runs, a ratio of at least 1 (e.g. 2), or 0 for no throttle`);
  }
  return ratio;
}

/** `--copy-rate 20` (MB/s, > 0) or undefined. */
export function parseCopyRate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const rate = Number(value);
  if (!Number.isFinite(rate) || rate <= 0) throw new Error(`--copy-rate "${value}": give the initial copy's cap in MB/s, a number above 0 (e.g. 20)`);
  return rate;
}
