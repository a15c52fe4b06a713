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

/** A tenant's move (extract or return, copy mode or online) run by the control plane. */
export interface MoveTenantInput {
  stack: StackRef;
  tenantId: string;
  direction: "extract" | "return";
  online: boolean;
  /** Kept before the old copy is purged; its purge is a `purgeMovedCopy` child workflow. */
  graceMs: number;
  copyRateMBps?: number;
  /** The online copy's impact throttle (OnlineMoveOptions.maxImpact); unset: its default. */
  maxImpact?: number;
  /** How long a silent activity may go before another worker retries it (default 30 s). */
  heartbeatTimeoutSeconds?: number;
}

/**
 * A move runs as a few activities, each the plan's steps up to the one named (infra/tenancy/move): the slow,
 * engine-bound provisioning; an online move's copy and stream; and the fence through the cutover as one activity,
 * so the freeze holds no round trip to the control plane. Checked against the plans by a unit test.
 */
export const MOVE_ACTIVITY_STEPS = { copy: ["provision", "cutover"], online: ["provision", "catch-up", "cutover"] } as const;

export interface MoveStepsInput extends MoveTenantInput {
  through: string;
  /** When the workflow began (ISO, seconds): a cutover at or after it is this move's. */
  since: string;
}

export interface MoveStepsOutcome {
  /** The last step completed. */
  step: string;
  /** Set once the move has cut over. */
  moved?: { rows: number; freezeMs: number; movedAt: string; purgeAfter: string; resumed: boolean };
}

/** `bloom tenants sync --workflow`: the tenant stacks made to match the catalog, `concurrency` stacks at a time. */
export interface SyncFleetInput {
  stack: StackRef;
  concurrency: number;
}

/** One tenant stack's part of a sync (scripts/runbook/tenantSync.ts). */
export interface StackSyncItem {
  stack: string;
  tenantId: string;
  action: "up" | "destroy";
}

export interface StackSyncInput {
  stack: StackRef;
  item: StackSyncItem;
}

export type StackSyncResult = "upped" | "destroyed" | "refused";

export interface FleetSyncOutcome {
  upped: string[];
  destroyed: string[];
  refused: string[];
  /** Stacks whose sync failed after its retries, with the last error. */
  failed: { stack: string; error: string }[];
}

/** `bloom migrate deploy --all --workflow`: every database of the stack, each behind its own snapshot. */
export interface DeployMigrationsInput {
  stack: StackRef;
  concurrency: number;
}

/** The databases by name only (`pool`, `tenant:<id>`): their connection strings never enter a workflow's history. */
export interface MigrationsPlan {
  deployId: string;
  targets: string[];
}

export interface TargetDeployInput {
  stack: StackRef;
  target: string;
  deployId: string;
}

export interface TargetDeployOutcome {
  target: string;
  snapshot?: string;
  applied: string[];
  warnings: string[];
}

export interface MigrationsOutcome {
  deployId: string;
  deployed: TargetDeployOutcome[];
  /** Databases whose deploy failed, with the error and the snapshot to roll back to. */
  failed: { target: string; error: string; snapshot?: string }[];
}

export interface ControlPlaneActivities {
  purgeDueCopy(input: PurgeDueCopyInput): Promise<PurgeOutcome>;
  runMoveSteps(input: MoveStepsInput): Promise<MoveStepsOutcome>;
  planFleetSync(input: { stack: StackRef }): Promise<StackSyncItem[]>;
  syncStack(input: StackSyncInput): Promise<StackSyncResult>;
  planMigrations(input: { stack: StackRef }): Promise<MigrationsPlan>;
  deployMigrationsTo(input: TargetDeployInput): Promise<TargetDeployOutcome>;
}

/**
 * Workflow ids: the stack and the tenant, so one tenant's operations of one kind are one workflow at a time in a
 * namespace. The purge adds the move it belongs to (two moves, two purges). Ids are unique per namespace only — the
 * database-side move lease is what keeps two machines' control planes off the same tenant's data.
 */
export const purgeWorkflowId = (stackName: string, tenantId: string, movedAt: string) => `bloom/${stackName}/purge/${tenantId}/${movedAt}`;

/** One move of a tenant at a time per namespace (the move lease holds across namespaces). */
export const moveWorkflowId = (stackName: string, tenantId: string) => `bloom/${stackName}/move/${tenantId}`;

/** One fleet sync per platform stack, and one sync of a tenant stack at a time: its engine runs are serialized. */
export const syncFleetWorkflowId = (stackName: string) => `bloom/${stackName}/sync`;
export const stackSyncWorkflowId = (stackName: string, tenantStack: string) => `bloom/${stackName}/sync/${tenantStack}`;

/** The innermost cause of a failure: a child workflow's wraps its activity's, which wraps the error thrown. */
export function innermostCause(err: unknown): { message?: string; details?: unknown[] } | undefined {
  let e = err as { cause?: unknown; message?: string; details?: unknown[] } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e;
}

/** One fleet-wide migration deploy per platform stack at a time. */
export const deployMigrationsWorkflowId = (stackName: string) => `bloom/${stackName}/migrate`;
