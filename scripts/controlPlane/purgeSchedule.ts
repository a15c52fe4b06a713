import { WorkflowNotFoundError } from "@temporalio/client";
import { withControlPlane, schedulePurge } from "../../infra/controlPlane/client";
import { purgeWorkflowId } from "../../infra/controlPlane/contract";
import { builtTemporalCli, temporalDevServerRunning, temporalPort } from "../../infra/controlPlane/temporalDevServer";
import type { Say } from "../runbook/snapshotCommands";
import type { StackContext } from "../runbook/stackContext";
import { localWorkerRunning } from "./localWorker";
import { reachControlPlane } from "./stackControlPlane";

export type PurgeScheduling = { scheduled: true; workflowId: string } | { scheduled: false; why: string };
export type SchedulePurge = (due: { tenantId: string; movedAt: string; after: string }) => Promise<PurgeScheduling>;

/**
 * How the CLI hands a move's old copy to the control plane: a `purgeMovedCopy` workflow on the stack's endpoint,
 * with the local worker started when that endpoint is this machine's dev server. Says why not when there is none.
 */
export function durablePurges(ctx: StackContext, say: Say): SchedulePurge {
  return async ({ tenantId, movedAt, after }) => {
    const cp = await reachControlPlane(ctx, say);
    if (!cp.endpoint) return { scheduled: false, why: cp.why };
    const workflowId = await withControlPlane(cp.endpoint, (client) => schedulePurge(client, { stack: cp.stack, tenantId, movedAt, after }));
    return { scheduled: true, workflowId };
  };
}

export type DescribePurges = (pending: { tenantId: string; movedAt: string }[]) => Promise<Map<string, string>>;

/**
 * For `bloom tenants status`: whether each pending purge is in the control plane's hands — read only (nothing is
 * started: a stopped dev server is reported, not restarted), by the workflows' descriptions, which need no worker.
 */
export function purgeScheduleStatus(ctx: StackContext): DescribePurges {
  return async (pending) => {
    const out = new Map<string, string>();
    const byHand = (id: string) => `\`bloom tenants purge ${id}\` when due`;
    const none = (why: string) => new Map(pending.map((p) => [p.tenantId, `not scheduled (${why}): ${byHand(p.tenantId)}`]));
    if (!pending.length) return out;
    if (ctx.config.database.backend !== "local") return none("this stack has no control-plane endpoint");
    if (!builtTemporalCli()) return none("the Temporal CLI is not built here");
    const port = temporalPort();
    if (!temporalDevServerRunning({ port })) {
      return new Map(pending.map((p) => [p.tenantId, `the control plane is stopped here: a scheduled purge waits until a move or \`bloom worker\` starts it again (or ${byHand(p.tenantId)})`]));
    }
    const noWorker = localWorkerRunning(port) ? "" : "; no worker is running: it runs once one starts (`bloom worker`)";
    await withControlPlane({ address: `127.0.0.1:${port}`, namespace: "default", local: true }, async (client) => {
      for (const p of pending) {
        const workflowId = purgeWorkflowId(ctx.stackName, p.tenantId, p.movedAt);
        const found = await client.workflow.getHandle(workflowId).describe().catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return undefined;
          throw err;
        });
        out.set(p.tenantId, !found ? `not scheduled: ${byHand(p.tenantId)}`
          : found.status.name === "RUNNING" ? `scheduled on the control plane (workflow ${workflowId})${noWorker}`
          : `its workflow ${workflowId} is ${found.status.name.toLowerCase()}: ${byHand(p.tenantId)}`);
      }
    });
    return out;
  };
}
