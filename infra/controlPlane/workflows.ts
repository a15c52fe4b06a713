import { defineQuery, executeChild, ParentClosePolicy, proxyActivities, setHandler, sleep, startChild } from "@temporalio/workflow";
import {
  innermostCause, MOVE_ACTIVITY_STEPS, purgeWorkflowId, stackSyncWorkflowId,
  type ControlPlaneActivities, type FleetSyncOutcome, type MoveStepsOutcome, type MoveTenantInput, type PurgeDueCopyInput, type PurgeOutcome,
  type DeployMigrationsInput, type MigrationsOutcome, type StackSyncInput, type StackSyncResult, type SyncFleetInput,
} from "./contract";

/**
 * The control plane's workflows (Temporal). Deterministic code only: no I/O, no imports beyond the workflow SDK and
 * types — every effect is an activity (scripts/controlPlane/activities.ts), and the time a workflow reads is the
 * history's. Bundled once per source (scripts/controlPlane/workflowBundle.ts), not on every worker start.
 */

/** What a running purge is doing, for `bloom tenants status` and the CLI's progress line. */
export type PurgeProgress = { step: "waiting"; until: string } | { step: "purging" } | { step: "done"; outcome: PurgeOutcome };
export const purgeProgress = defineQuery<PurgeProgress>("progress");

const { purgeDueCopy } = proxyActivities<ControlPlaneActivities>({
  // Deleting a big copy in batches takes a while; a dead worker is noticed by its missed heartbeats, not the timeout.
  startToCloseTimeout: "2 hours",
  heartbeatTimeout: "30 seconds",
  // Retried whatever failed: the grace not yet over (clocks a second apart), a lock, the network. No failure is
  // final yet: a tenant gone from the catalog retries until the workflow is ended (the step runner will split them).
  retry: { initialInterval: "2 seconds", backoffCoefficient: 2, maximumInterval: "1 minute" },
});

/**
 * The old copy a move left, purged when its grace period ends — a durable timer, so no operator runs a command and
 * no machine has to stay up: the history holds the timer, any worker runs the purge. The purge itself checks the
 * catalog under the tenant's move lease and deletes only the copy of the move it was scheduled for (`movedAt`): a
 * copy purged by hand meanwhile, or a later move's, is left alone.
 */
export async function purgeMovedCopy(input: PurgeDueCopyInput): Promise<PurgeOutcome> {
  let progress: PurgeProgress = { step: "waiting", until: input.after };
  setHandler(purgeProgress, () => progress);
  const wait = Date.parse(input.after) - Date.now();
  if (wait > 0) await sleep(wait);
  progress = { step: "purging" };
  const outcome = await purgeDueCopy(input);
  progress = { step: "done", outcome };
  return outcome;
}

/** Where a move stands: the activity in hand (named by the last step it runs), or its outcome. */
export type MoveProgress = { step: "running"; through: string } | { step: "done"; outcome: NonNullable<MoveStepsOutcome["moved"]>; purgeWorkflowId?: string };
export const moveProgress = defineQuery<MoveProgress>("progress");

/**
 * A tenant's move: its plan's steps as a few activities (MOVE_ACTIVITY_STEPS), each resuming from the journal in the
 * catalog, so a worker that dies mid-activity is noticed by its missed heartbeats and the activity goes on from
 * its last durable step on another worker. A final failure (a refusal, a verification mismatch) is not retried: the
 * runner has undone the move by then. After the cutover, the old copy's purge is a child workflow that outlives
 * this one.
 */
export async function moveTenant(input: MoveTenantInput): Promise<MoveProgress> {
  let progress: MoveProgress = { step: "running", through: "" };
  setHandler(moveProgress, () => progress);
  const { runMoveSteps } = proxyActivities<ControlPlaneActivities>({
    startToCloseTimeout: "12 hours",
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? 30} seconds`,
    retry: { initialInterval: "2 seconds", backoffCoefficient: 2, maximumInterval: "1 minute", nonRetryableErrorTypes: ["MoveRefused", "VerificationFailed"] },
  });
  let outcome: MoveStepsOutcome = { step: "begun" };
  const since = `${new Date().toISOString().slice(0, 19)}Z`; // the history's clock, to the second like the catalog's`
  for (const through of MOVE_ACTIVITY_STEPS[input.online ? "online" : "copy"]) {
    progress = { step: "running", through };
    outcome = await runMoveSteps({ ...input, through, since });
  }
  const moved = outcome.moved!;
  const purge = { stack: input.stack, tenantId: input.tenantId, movedAt: moved.movedAt, after: moved.purgeAfter };
  const childId = purgeWorkflowId(input.stack.stackName, input.tenantId, moved.movedAt);
  await startChild(purgeMovedCopy, { workflowId: childId, args: [purge], parentClosePolicy: ParentClosePolicy.ABANDON });
  progress = { step: "done", outcome: moved, purgeWorkflowId: childId };
  return progress;
}

/** Where a fleet sync stands: planning, the stacks done and in hand, or its outcome. */
export type SyncProgress = { step: "planning" } | { step: "syncing"; done: number; total: number; running: string[] } | { step: "done"; outcome: FleetSyncOutcome };
export const syncProgress = defineQuery<SyncProgress>("progress");

/**
 * `bloom tenants sync --workflow`: the tenant stacks made to match the catalog. The plan is an activity (the same
 * as the CLI's, scripts/runbook/tenantSync.ts); each stack is a child workflow whose id names the stack, so two
 * syncs never run one stack's engine at once, `concurrency` children at a time. A stack that still fails after its
 * retries is reported with its error; the others go on.
 */
export async function syncFleet(input: SyncFleetInput): Promise<FleetSyncOutcome> {
  let progress: SyncProgress = { step: "planning" };
  setHandler(syncProgress, () => progress);
  const { planFleetSync } = proxyActivities<ControlPlaneActivities>({ startToCloseTimeout: "10 minutes", retry: { initialInterval: "2 seconds", maximumAttempts: 5 } });
  const work = await planFleetSync({ stack: input.stack });
  const outcome: FleetSyncOutcome = { upped: [], destroyed: [], refused: [], failed: [] };
  await inLanes(work.map((w) => w.stack), input.concurrency, (p) => void (progress = { step: "syncing", ...p }), async (i) => {
    const item = work[i]!;
    try {
      const result = await executeChild(syncOneStack, { workflowId: stackSyncWorkflowId(input.stack.stackName, item.stack), args: [{ stack: input.stack, item }] });
      outcome[result].push(item.stack);
    } catch (err) {
      outcome.failed.push({ stack: item.stack, error: rootMessage(err) });
    }
  });
  progress = { step: "done", outcome };
  return outcome;
}

/**
 * Runs `work` for each of `names` (by index), `concurrency` at a time, reporting which are done and in hand as it
 * goes. Deterministic: the order a lane picks its next item is the list's.
 */
async function inLanes(names: string[], concurrency: number, report: (p: { done: number; total: number; running: string[] }) => void, work: (index: number) => Promise<void>): Promise<void> {
  const running = new Set<string>();
  let next = 0;
  let done = 0;
  const say = () => report({ done, total: names.length, running: [...running] });
  say();
  const lane = async () => {
    while (next < names.length) {
      const index = next++;
      running.add(names[index]!);
      say();
      try {
        await work(index);
      } finally {
        running.delete(names[index]!);
        done++;
        say();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, names.length)) }, lane));
}

/** Where a fleet-wide deploy stands: planning, the databases done and in hand, or its outcome. */
export type MigrationsProgress = { step: "planning" } | { step: "deploying"; done: number; total: number; running: string[] } | { step: "done"; outcome: MigrationsOutcome };
export const migrationsProgress = defineQuery<MigrationsProgress>("progress");

/**
 * `bloom migrate deploy --all --workflow`: the plan (the snapshots' name, the databases, every pending migration
 * linted) is an activity; then each database's deploy — its snapshot, then its pending migrations — is an activity
 * any worker may run, `concurrency` at a time. A failed migration is not retried (running it again gives the same
 * error): it is reported with the snapshot to roll back to, and the other databases go on.
 */
export async function deployMigrations(input: DeployMigrationsInput): Promise<MigrationsOutcome> {
  let progress: MigrationsProgress = { step: "planning" };
  setHandler(migrationsProgress, () => progress);
  const { planMigrations, deployMigrationsTo } = proxyActivities<ControlPlaneActivities>({
    startToCloseTimeout: "1 hour",
    heartbeatTimeout: "1 minute",
    retry: { initialInterval: "2 seconds", backoffCoefficient: 2, maximumInterval: "1 minute", maximumAttempts: 3, nonRetryableErrorTypes: ["MigrationHookError", "LintError"] },
  });
  const plan = await planMigrations({ stack: input.stack });
  const outcome: MigrationsOutcome = { deployId: plan.deployId, deployed: [], failed: [] };
  await inLanes(plan.targets, input.concurrency, (p) => void (progress = { step: "deploying", ...p }), async (i) => {
    const target = plan.targets[i]!;
    try {
      outcome.deployed.push(await deployMigrationsTo({ stack: input.stack, target, deployId: plan.deployId }));
    } catch (err) {
      outcome.failed.push({ target, error: rootMessage(err), ...snapshotOf(err) });
    }
  });
  progress = { step: "done", outcome };
  return outcome;
}

/** The snapshot a failed deploy names in its failure's details (the activity puts it there). */
function snapshotOf(err: unknown): { snapshot?: string } {
  const snapshot = (innermostCause(err)?.details?.[0] as { snapshot?: string } | undefined)?.snapshot;
  return snapshot ? { snapshot } : {};
}

/** One tenant stack's sync: its `up` (or destroy) as an activity, retried on any worker, within the worker's engine cap. */
export async function syncOneStack(input: StackSyncInput): Promise<StackSyncResult> {
  const { syncStack } = proxyActivities<ControlPlaneActivities>({
    startToCloseTimeout: "2 hours",
    heartbeatTimeout: "1 minute", // an engine run is quiet for long stretches: the activity beats on a timer
    retry: { initialInterval: "5 seconds", backoffCoefficient: 2, maximumInterval: "1 minute", maximumAttempts: 3 },
  });
  return syncStack(input);
}

const rootMessage = (err: unknown): string => innermostCause(err)?.message ?? String(err);
