import { defineQuery, proxyActivities, setHandler, sleep } from "@temporalio/workflow";
import type { ControlPlaneActivities, PurgeDueCopyInput, PurgeOutcome } from "./contract";

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
