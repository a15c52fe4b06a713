/**
 * What the control plane's workflows and its workers agree on: the task queue, how workflow ids are made, and the
 * activities' signatures (the workflows import these types only; the worker implements them).
 */
export const CONTROL_PLANE_TASK_QUEUE = "bloom-control-plane";

/** Where an activity finds the platform stack it works on (the runbook's StackContext options). */
export interface StackRef {
  stackName: string;
  configFile: string;
  root?: string;
}

export interface PurgeDueCopyInput {
  stack: StackRef;
  tenantId: string;
  /** The move whose old copy this purge deletes (the catalog's `pending_purge.movedAt`). */
  movedAt: string;
  /** When the grace period ends. */
  after: string;
}

export type PurgeOutcome =
  | { purged: true; rows: number; at: string }
  | { purged: false; reason: string };

export interface ControlPlaneActivities {
  purgeDueCopy(input: PurgeDueCopyInput): Promise<PurgeOutcome>;
}

/**
 * Workflow ids: the stack and the tenant, so one tenant's operations of one kind are one workflow at a time in a
 * namespace. The purge adds the move it belongs to (two moves, two purges). Ids are unique per namespace only — the
 * database-side move lease is what keeps two machines' control planes off the same tenant's data.
 */
export const purgeWorkflowId = (stackName: string, tenantId: string, movedAt: string) => `bloom/${stackName}/purge/${tenantId}/${movedAt}`;
