import { WorkflowFailedError } from "@temporalio/client";
import { withControlPlane } from "../../infra/controlPlane/client";
import { CONTROL_PLANE_TASK_QUEUE, moveWorkflowId, type MoveTenantInput } from "../../infra/controlPlane/contract";
import { controlPlaneFor } from "../../infra/controlPlane/endpoint";
import type { moveTenant, MoveProgress } from "../../infra/controlPlane/workflows";
import type { Say } from "../runbook/snapshotCommands";
import type { StackContext } from "../runbook/stackContext";
import { ensureLocalWorker } from "./localWorker";

const FOLLOW_UNREACHABLE_MS = 10 * 60_000;

export type MoveOnControlPlane = (move: Omit<MoveTenantInput, "stack">, opts: { detach: boolean }) => Promise<void>;

/**
 * `bloom tenants extract|return <id> --workflow`: the move runs on the control plane (the `moveTenant` workflow; on
 * the local stack, the local worker the CLI starts) and the CLI follows it with a progress line per activity, then
 * the outcome. The move does not depend on this process: Ctrl-C (or `--detach`) leaves it running, and running the
 * command again follows the same workflow (one per tenant and stack).
 */
export function moveOnControlPlane(ctx: StackContext, say: Say): MoveOnControlPlane {
  return async (move, opts) => {
    const found = await controlPlaneFor(ctx.config, say);
    if (!found.endpoint) throw new Error(`--workflow: no control plane for this stack (${found.why}); run the move without --workflow`);
    if (found.endpoint.local) await ensureLocalWorker(found.endpoint, say);
    const stack = { stackName: ctx.stackName, configFile: ctx.configFile, ...(ctx.root ? { root: ctx.root } : {}) };
    const heartbeat = process.env.BLOOM_MOVE_HEARTBEAT_TIMEOUT_S ? { heartbeatTimeoutSeconds: Number(process.env.BLOOM_MOVE_HEARTBEAT_TIMEOUT_S) } : {};
    const workflowId = moveWorkflowId(ctx.stackName, move.tenantId);
    await withControlPlane(found.endpoint, async (client) => {
      const handle = await client.workflow.start<typeof moveTenant>("moveTenant", {
        taskQueue: CONTROL_PLANE_TASK_QUEUE, workflowId, args: [{ ...move, ...heartbeat, stack }], workflowIdConflictPolicy: "USE_EXISTING",
      });
      say(`control plane: the ${move.direction} of ${move.tenantId} runs as workflow ${workflowId}`);
      if (opts.detach) return say(`detached: it goes on without this command; \`bloom tenants status\` shows it, and the same command follows it again`);
      const detach = () => {
        say(`detached: workflow ${workflowId} goes on without this command`);
        process.exit(0);
      };
      process.once("SIGINT", detach);
      try {
        // Followed by polling, not one long wait: the server may restart under a move (its history is on disk), and
        // following resumes when it is back.
        let shown = "";
        let unreachableSince = 0;
        for (;;) {
          await new Promise((r) => setTimeout(r, 1_000));
          const status = await handle.describe().then((d) => d.status.name, (err: Error) => {
            if (!unreachableSince) say(`control plane unreachable (${err.message.split("\n")[0]}); the move goes on in its worker, following again when it is back`);
            unreachableSince ||= Date.now();
            if (Date.now() - unreachableSince > FOLLOW_UNREACHABLE_MS) throw new Error(`the control plane has been unreachable for ${FOLLOW_UNREACHABLE_MS / 60_000} min: workflow ${workflowId} is not lost (its history is on the server); run the command again to follow it`);
            return undefined;
          });
          if (!status) continue;
          if (unreachableSince) say("control plane reachable again");
          unreachableSince = 0;
          if (status !== "RUNNING") break;
          const progress = await handle.query<MoveProgress>("progress").catch(() => undefined);
          if (progress?.step === "running" && progress.through && progress.through !== shown) say(`control plane: running the steps through ${(shown = progress.through)}`);
        }
        const done = await handle.result().catch((err: unknown) => {
          if (!(err instanceof WorkflowFailedError)) throw err;
          const cause = (err.cause as { cause?: Error } | undefined)?.cause ?? err.cause;
          throw new Error(`the ${move.direction} of ${move.tenantId} failed on the control plane (workflow ${workflowId}): ${cause?.message ?? err.message}`);
        });
        if (done.step !== "done") throw new Error(`workflow ${workflowId} ended without an outcome`);
        const m = done.outcome;
        say(`write freeze: ${(m.freezeMs / 1000).toFixed(2)} s (fence → cutover)`);
        say(`done: ${m.rows} rows moved on the control plane; the old copy is purged after ${m.purgeAfter} by workflow ${done.purgeWorkflowId}`);
      } finally {
        process.removeListener("SIGINT", detach);
      }
    });
  };
}
