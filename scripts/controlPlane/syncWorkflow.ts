import { withControlPlane } from "../../infra/controlPlane/client";
import { CONTROL_PLANE_TASK_QUEUE, syncFleetWorkflowId, type FleetSyncOutcome } from "../../infra/controlPlane/contract";
import type { syncFleet, SyncProgress } from "../../infra/controlPlane/workflows";
import type { Say } from "../runbook/snapshotCommands";
import type { StackContext } from "../runbook/stackContext";
import { reportSync, type SyncSummary } from "../runbook/tenantSync";
import { followWorkflow } from "./followWorkflow";
import { reachControlPlane } from "./stackControlPlane";

/**
 * `bloom tenants sync --workflow [--detach]`: the sync runs on the control plane (`syncFleet`: a child workflow per
 * tenant stack, `concurrency` at a time, each stack's engine run an activity any worker may take) and the CLI
 * follows it with a line as stacks finish, then the same summary as the direct sync. One sync per platform stack:
 * the same command follows a sync already running.
 */
export async function syncOnControlPlane(ctx: StackContext, opts: { concurrency: number; detach: boolean; say: Say }): Promise<SyncSummary | undefined> {
  const { say } = opts;
  const cp = await reachControlPlane(ctx, say);
  if (!cp.endpoint) throw new Error(`--workflow: no control plane for this stack (${cp.why}); run the sync without --workflow`);
  const { stack } = cp;
  const workflowId = syncFleetWorkflowId(ctx.stackName);
  return withControlPlane(cp.endpoint, async (client) => {
    const handle = await client.workflow.start<typeof syncFleet>("syncFleet", {
      taskQueue: CONTROL_PLANE_TASK_QUEUE, workflowId, args: [{ stack, concurrency: opts.concurrency }], workflowIdConflictPolicy: "USE_EXISTING",
    });
    say(`control plane: the sync of ${ctx.stackName}'s tenant stacks runs as workflow ${workflowId}`);
    if (opts.detach) {
      say(`detached: it goes on without this command; the same command follows it again`);
      return undefined;
    }
    let shown = -1;
    const outcome = await followWorkflow<FleetSyncOutcome, SyncProgress>(handle, {
      what: `the sync of ${ctx.stackName}`, say,
      progress: (p) => {
        if (p.step === "syncing" && p.done !== shown) say(`control plane: ${(shown = p.done)} of ${p.total} stacks synced${p.running.length ? `; running ${p.running.join(", ")}` : ""}`);
      },
    });
    for (const f of outcome.failed) say(`${f.stack}: FAILED — ${f.error.split("\n")[0]}`);
    return reportSync({ ...outcome, failed: outcome.failed.map((f) => f.stack) }, say);
  });
}
