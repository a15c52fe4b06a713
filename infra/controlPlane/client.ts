import { Client, Connection } from "@temporalio/client";
import { CONTROL_PLANE_TASK_QUEUE, purgeWorkflowId, type PurgeDueCopyInput } from "./contract";
import type { ControlPlaneEndpoint } from "./endpoint";
import type { purgeMovedCopy, PurgeProgress } from "./workflows";

/** A client of the stack's control plane for the duration of `work` (one connection, closed after). */
export async function withControlPlane<T>(endpoint: ControlPlaneEndpoint, work: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: endpoint.address, connectTimeout: "10 seconds" });
  try {
    return await work(new Client({ connection, namespace: endpoint.namespace }));
  } finally {
    await connection.close();
  }
}

/** Schedules the purge of a move's old copy; idempotent (a second call finds the running workflow). Its id. */
export async function schedulePurge(client: Client, input: PurgeDueCopyInput): Promise<string> {
  const workflowId = purgeWorkflowId(input.stack.stackName, input.tenantId, input.movedAt);
  await client.workflow.start<typeof purgeMovedCopy>("purgeMovedCopy", {
    taskQueue: CONTROL_PLANE_TASK_QUEUE, workflowId, args: [input], workflowIdConflictPolicy: "USE_EXISTING",
  });
  return workflowId;
}

/** Where a scheduled purge stands (its query), or its closed status. */
export async function purgeProgressOf(client: Client, workflowId: string): Promise<PurgeProgress | { step: string }> {
  const handle = client.workflow.getHandle(workflowId);
  const { status } = await handle.describe();
  if (status.name !== "RUNNING") return status.name === "COMPLETED" ? { step: "done", outcome: await handle.result() } : { step: status.name.toLowerCase() };
  return handle.query<PurgeProgress>("progress");
}
