import { withControlPlane, schedulePurge } from "../../infra/controlPlane/client";
import { controlPlaneFor } from "../../infra/controlPlane/endpoint";
import type { Say } from "../runbook/snapshotCommands";
import type { StackContext } from "../runbook/stackContext";
import { ensureLocalWorker } from "./localWorker";

export type PurgeScheduling = { scheduled: true; workflowId: string } | { scheduled: false; why: string };
export type SchedulePurge = (due: { tenantId: string; movedAt: string; after: string }) => Promise<PurgeScheduling>;

/**
 * How the CLI hands a move's old copy to the control plane: a `purgeMovedCopy` workflow on the stack's endpoint,
 * with the local worker started when that endpoint is this machine's dev server. Says why not when there is none.
 */
export function durablePurges(ctx: StackContext, say: Say): SchedulePurge {
  return async ({ tenantId, movedAt, after }) => {
    const found = await controlPlaneFor(ctx.config, say);
    if (!found.endpoint) return { scheduled: false, why: found.why };
    if (found.endpoint.local) await ensureLocalWorker(found.endpoint, say);
    const stack = { stackName: ctx.stackName, configFile: ctx.configFile, ...(ctx.root ? { root: ctx.root } : {}) };
    const workflowId = await withControlPlane(found.endpoint, (client) => schedulePurge(client, { stack, tenantId, movedAt, after }));
    return { scheduled: true, workflowId };
  };
}
