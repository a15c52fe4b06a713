import { activityInfo, ApplicationFailure, heartbeat } from "@temporalio/activity";
import { MigrationHookError } from "../../infra/migrations/deployToTargets";
import { MOVE_ACTIVITY_STEPS, type ControlPlaneActivities, type MoveStepsInput, type MoveStepsOutcome, type PurgeDueCopyInput, type PurgeOutcome, type StackSyncInput, type StackSyncItem, type StackSyncResult, type StackRef, type MigrationsPlan, type TargetDeployInput, type TargetDeployOutcome } from "../../infra/controlPlane/contract";
import { runLimit } from "../../infra/concurrency";
import { withClient } from "../../infra/database/sql/withClient";
import { readCatalogRow } from "../../infra/tenancy/move/moveJournal";
import { executeMove } from "../../infra/tenancy/move/moveRun";
import { copyModePlan } from "../../infra/tenancy/move/moveSteps";
import { onlinePlan } from "../../infra/tenancy/move/onlineMove";
import { purgeMovedCopy } from "../../infra/tenancy/move/purgeCopy";
import { refusal } from "../../infra/tenancy/move/tenantMove";
import { moveHooks } from "../runbook/tenantCommands";
import { deployToTarget, planFleetMigrations, planTenantSync, syncTenantStack } from "../runbook/tenantSync";
import { replicationAdminUrl } from "../runbook/replicationAdmin";
import { openStackContext, type StackContext } from "../runbook/stackContext";
import { tenantHandle, tenantStackUrl } from "../runbook/tenantStackAccess";

/**
 * The control plane's activities: the runbook's own operations, run by a worker (`bloom worker`) on the stack the
 * workflow names. Each heartbeats as it goes, so a worker that dies is noticed within the heartbeat timeout and the
 * activity retried elsewhere; each is safe to retry (the operation rechecks the catalog under the tenant's lease).
 */
export function controlPlaneActivities(log: (line: string) => void = () => undefined, opts: { engineRuns?: number } = {}): ControlPlaneActivities {
  // Engine runs (`up`, destroy) at once on this worker: each is a `pulumi` process of its own, with its memory.
  const engineRun = runLimit(opts.engineRuns ?? 2);
  /**
   * Every activity's frame: its progress line beating from the first moment, then its stack opened (which reads the
   * outputs through the engine: seconds), the work, the beat stopped. An activity whose set-up outlasted a short
   * heartbeat timeout was timed out on every attempt (seen: the move's first activity retried forever under 5 s).
   */
  const onStack = async <T>(stack: StackRef, first: string, work: (ctx: StackContext, say: ProgressLine) => Promise<T>): Promise<T> => {
    const say = progressLine(stack, log, first);
    try {
      return await work(await openStackContext(stack), say);
    } finally {
      say.stop();
    }
  };
  return {
    async purgeDueCopy(input: PurgeDueCopyInput): Promise<PurgeOutcome> {
      return onStack(input.stack, `purging ${input.tenantId}'s old copy (move of ${input.movedAt}, due ${input.after})`, async (ctx, say) => {
        const handle = tenantHandle(ctx, input.tenantId, { declared: false });
        const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
        const res = await purgeMovedCopy(poolUrl, input.tenantId, { dedicatedUrl: () => tenantStackUrl(handle), movedAt: input.movedAt, log: say });
        if (!res) {
          const reason = `no old copy of ${input.tenantId}'s move of ${input.movedAt} is pending: purged already, or a later move's`;
          say(reason);
          return { purged: false, reason };
        }
        const rows = Object.values(res.deleted).reduce((a, b) => a + b, 0);
        say(`purged ${rows} rows of ${input.tenantId} at ${res.at}`);
        return { purged: true, rows, at: res.at };
      });
    },

    /**
     * A move's steps up to `through`, by the same runner as the CLI's (resuming from the catalog's journal, under
     * the tenant's move lease). The lease is bound to the activity's heartbeat timeout as well as its session: a
     * retry on another worker waits while this one lives and renews it, and takes it over (the next fencing token)
     * from one frozen past the timeout, whose sessions it ends and whose later writes the token refuses. A retry of
     * the last activity after a cutover whose completion never reached the server finds the move done, and says so.
     */
    async runMoveSteps(input: MoveStepsInput): Promise<MoveStepsOutcome> {
      return onStack(input.stack, `${input.direction} of ${input.tenantId}: through ${input.through}`, async (ctx, say) => {
        const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
        const plan = input.online ? onlinePlan : copyModePlan;
        const finalStep = plan.steps.at(-1)!.name;
        const before = await withClient(poolUrl, (c) => readCatalogRow(c, input.tenantId));
        const target = input.direction === "extract" ? "dedicated" : "pool";
        if (input.through === finalStep && before && !before.move && before.location.kind === target && before.pendingPurge && before.pendingPurge.movedAt >= input.since) {
          say(`the ${input.direction} of ${input.tenantId} had cut over already (${before.pendingPurge.movedAt}): nothing to run again`);
          return { step: finalStep, moved: { rows: 0, freezeMs: 0, movedAt: before.pendingPurge.movedAt, purgeAfter: before.pendingPurge.after, resumed: true } };
        }
        const handle = tenantHandle(ctx, input.tenantId);
        const hooks = moveHooks(ctx, input.tenantId, say);
        const provisionDedicated = () => engineRun(hooks.provisionDedicated, (ahead) => say(`waiting for this worker's engine runs (${ahead} ahead)`));
        const info = activityInfo();
        const lease = { holder: `workflow ${info.workflowExecution?.workflowId ?? "?"} (activity ${info.activityId}, attempt ${info.attempt})`, ttlMs: info.heartbeatTimeoutMs ?? 30_000 };
        const run = await executeMove(plan, {
          tenantId: input.tenantId, direction: input.direction, poolUrl, dedicated: handle.dedicated, graceMs: input.graceMs, log: say,
          hooks: { ...hooks, provisionDedicated }, adminUrl: (db) => replicationAdminUrl(ctx, db), through: input.through, lease,
          ...(input.copyRateMBps ? { copyRateMBps: input.copyRateMBps } : {}), ...(input.maxImpact !== undefined ? { maxImpact: input.maxImpact } : {}),
        }, (row) => {
          // Only the first activity begins a move; a later one whose journal is gone (aborted meanwhile) must not
          // begin it again.
          if (input.through !== MOVE_ACTIVITY_STEPS[input.online ? "online" : "copy"][0] && row && !row.move) {
            return `no ${input.direction} of ${input.tenantId} is in progress any more (aborted, or ended elsewhere): the workflow stops here`;
          }
          return refusal(row, input.tenantId, input.direction, input.online);
        });
        if (run.journal.step !== finalStep) return { step: run.journal.step };
        const after = await withClient(poolUrl, (c) => readCatalogRow(c, input.tenantId));
        const rows = Object.values(run.journal.verified ?? {}).reduce((n, t) => n + t.rows, 0);
        say(`cutover: ${input.tenantId} now lives in its new home (${rows} rows); its old copy is purged after ${run.purgeAfter}`);
        return { step: finalStep, moved: { rows, freezeMs: run.cutoverAt - Date.parse(run.journal.fencedAt!), movedAt: after!.pendingPurge!.movedAt, purgeAfter: run.purgeAfter, resumed: run.resumed } };
      });
    },

    /** A sync's plan, read where the CLI reads it: the catalog, the config, the tenant stacks that exist. */
    async planFleetSync(input: { stack: StackRef }): Promise<StackSyncItem[]> {
      return onStack(input.stack, "planning the sync", (ctx, say) => planTenantSync(ctx, say));
    },

    /** One tenant stack's `up` or destroy, within this worker's cap on engine runs; heartbeats while it waits and runs. */
    async syncStack(input: StackSyncInput): Promise<StackSyncResult> {
      return onStack(input.stack, `${input.item.stack}: ${input.item.action}`, (ctx, say) =>
        engineRun(() => syncTenantStack(ctx, input.item, say), (ahead) => say(`${input.item.stack}: waiting for this worker's engine runs (${ahead} ahead)`)));
    },

    /** A fleet-wide deploy's plan: the snapshots' name and the databases by name, every pending migration linted. */
    async planMigrations(input: { stack: StackRef }): Promise<MigrationsPlan> {
      return onStack(input.stack, "planning the migration deploy", (ctx) => planFleetMigrations(ctx));
    },

    /**
     * One database's deploy behind its snapshot. A migration that fails is final for the workflow (running it again
     * gives the same error): it fails with that error alone and the snapshot to roll back to.
     */
    async deployMigrationsTo(input: TargetDeployInput): Promise<TargetDeployOutcome> {
      return onStack(input.stack, `${input.target}: deploying migrations`, async (ctx, say) => {
        try {
          return await deployToTarget(ctx, input.target, input.deployId, say);
        } catch (err) {
          if (!(err instanceof MigrationHookError)) throw err;
          const failure = err.failures[0]!;
          throw ApplicationFailure.create({ message: failure.error.message, type: "MigrationHookError", nonRetryable: true, details: [{ snapshot: failure.snapshot }] });
        }
      });
    },
  };
}

type ProgressLine = ((line: string) => void) & { stop(): void };

/**
 * An activity's progress line: heartbeated (a dead worker is noticed by the beats it misses) and logged with its
 * stack; beaten with `first` at once, then with the last line every 2 s until `stop` (an engine run can be quiet
 * for longer than the heartbeat timeout).
 */
function progressLine(stack: StackRef, log: (line: string) => void, first: string): ProgressLine {
  let last = first;
  heartbeat(first);
  const beat = setInterval(() => heartbeat(last), 2_000);
  return Object.assign((line: string) => {
    last = line;
    heartbeat(line);
    log(`[${stack.stackName}] ${line}`);
  }, { stop: () => clearInterval(beat) });
}
