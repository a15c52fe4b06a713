import type { StackRef } from "../../infra/controlPlane/contract";
import { controlPlaneFor, type ControlPlaneEndpoint } from "../../infra/controlPlane/endpoint";
import type { Say } from "../runbook/snapshotCommands";
import type { StackContext } from "../runbook/stackContext";
import { ensureLocalWorker } from "./localWorker";

/**
 * The stack's control plane as a CLI command reaches it: the endpoint (with the local worker started when it is
 * this machine's dev server) and the stack as an activity opens it again — or why there is none.
 */
export async function reachControlPlane(ctx: StackContext, say: Say): Promise<{ endpoint: ControlPlaneEndpoint; stack: StackRef } | { endpoint?: undefined; why: string }> {
  const found = await controlPlaneFor(ctx.config, say);
  if (!found.endpoint) return { why: found.why };
  if (found.endpoint.local) await ensureLocalWorker(found.endpoint, say);
  return { endpoint: found.endpoint, stack: { stackName: ctx.stackName, configFile: ctx.configFile, ...(ctx.root ? { root: ctx.root } : {}) } };
}
