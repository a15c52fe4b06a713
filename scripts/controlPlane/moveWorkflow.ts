import { withControlPlane } from "../../infra/controlPlane/client";
import { CONTROL_PLANE_TASK_QUEUE, moveWorkflowId, type MoveTenantInput } from "../../infra/controlPlane/contract";
import type { moveTenant, MoveProgress } from "../../infra/controlPlane/workflows";
import type { Say } from "../runbook/snapshotCommands";
import type { StackContext } from "../runbook/stackContext";
import { followWorkflow } from "./followWorkflow";
import { reachControlPlane } from "./stackControlPlane";

export type MoveOnControlPlane = (move: Omit<MoveTenantInput, "stack">, opts: { detach: boolean }) => Promise<void>;

/**
 * `bloom tenants extract|return <id> --workflow`: the move runs on the control plane (the `moveTenant` workflow; on
 * the local stack, the local worker the CLI starts) and the CLI follows it with a progress line per activity, then
 * the outcome. The move does not depend on this process: Ctrl-C (or `--detach`) leaves it running, and running the
 * command again follows the same workflow (one per tenant and stack).
 */
export function moveOnControlPlane(ctx: StackContext, say: Say): MoveOnControlPlane {
  return async (move, opts) => {
    const cp = await reachControlPlane(ctx, say);
    if (!cp.endpoint) throw new Error(`--workflow: no control plane for this stack (${cp.why}); run the move without --workflow`);
    const { stack } = cp;
    const heartbeat = process.env.BLOOM_MOVE_HEARTBEAT_TIMEOUT_S ? { heartbeatTimeoutSeconds: Number(process.env.BLOOM_MOVE_HEARTBEAT_TIMEOUT_S) } : {};
    const workflowId = moveWorkflowId(ctx.stackName, move.tenantId);
    await withControlPlane(cp.endpoint, async (client) => {
      const handle = await client.workflow.start<typeof moveTenant>("moveTenant", {
        taskQueue: CONTROL_PLANE_TASK_QUEUE, workflowId, args: [{ ...move, ...heartbeat, stack }], workflowIdConflictPolicy: "USE_EXISTING",
      });
      say(`control plane: the ${move.direction} of ${move.tenantId} runs as workflow ${workflowId}`);
      if (opts.detach) return say(`detached: it goes on without this command; \`bloom tenants status\` shows it, and the same command follows it again`);
      let shown = "";
      const done = await followWorkflow<MoveProgress, MoveProgress>(handle, {
        what: `the ${move.direction} of ${move.tenantId}`, say,
        progress: (p) => {
          if (p.step === "running" && p.through && p.through !== shown) say(`control plane: running the steps through ${(shown = p.through)}`);
        },
      });
      if (done.step !== "done") throw new Error(`workflow ${workflowId} ended without an outcome`);
      const m = done.outcome;
      say(`write freeze: ${(m.freezeMs / 1000).toFixed(2)} s (fence → cutover)`);
      say(`done: ${m.rows} rows moved on the control plane; the old copy is purged after ${m.purgeAfter} by workflow ${done.purgeWorkflowId}`);
    });
  };
}
