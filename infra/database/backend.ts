/**
 * The database-branching seam. Two implementations: Neon (cloud) and a Postgres server on loopback (local).
 * Every `ensure*` is idempotent by name: calling it again after a crash returns the existing object.
 * No Pulumi here: the same functions serve dynamic providers and the runbook CLI.
 */

export interface ProjectSpec {
  name: string;
  /** Neon region id, e.g. aws-eu-central-1 (ignored locally). */
  regionId?: string;
  pgVersion?: number;
  historyRetentionSeconds?: number;
}

export interface ProjectRef {
  projectId: string;
  name: string;
  defaultBranchId: string;
}

export interface BranchSpec {
  projectId: string;
  name: string;
  /** Parent branch id; the project's default branch when omitted. */
  parentBranchId?: string;
  /** Branch from the parent's state at this instant (point-in-time); now when omitted. */
  at?: string;
  /** When the branch may be deleted by expiry jobs (snapshots carry one). */
  expiresAt?: string;
}

export interface BranchRef {
  projectId: string;
  branchId: string;
  name: string;
  parentBranchId?: string;
  createdAt: string;
  expiresAt?: string;
}

export interface RoleRef {
  name: string;
  password: string;
}

export interface ConnectionSpec {
  projectId: string;
  branchId: string;
  database: string;
  role: string;
  password: string;
  /** Pooled (PgBouncer) for the app; direct for migrations and session-level locks. */
  pooled?: boolean;
}

export interface RestoreSpec {
  projectId: string;
  /** The branch whose contents are replaced. */
  branchId: string;
  /** The branch whose contents it takes. */
  sourceBranchId: string;
  /** Name under which the replaced state is kept, so the restore can be undone. */
  preserveUnderName: string;
}

export interface DatabaseBackend {
  readonly kind: "neon" | "local";
  ensureProject(spec: ProjectSpec): Promise<ProjectRef>;
  /** Apply settings that may change on a live project (history retention); never replaces it. */
  configureProject(projectId: string, spec: ProjectSpec): Promise<void>;
  /** The role name as the server knows it (local roles are server-wide, so they carry the project prefix). */
  physicalRoleName(projectId: string, role: string): string;
  deleteProject(projectId: string): Promise<void>;
  ensureBranch(spec: BranchSpec): Promise<BranchRef>;
  listBranches(projectId: string): Promise<BranchRef[]>;
  /** The branch, or undefined when it (or its project) no longer exists — what `pulumi refresh` asks. */
  getBranch(projectId: string, branchId: string): Promise<BranchRef | undefined>;
  deleteBranch(projectId: string, branchId: string): Promise<void>;
  /**
   * Sets or clears (null) when the branch is deleted by expiry. A branch the app is pointed at must carry none: Neon
   * deletes an expired branch with its computes (infra/vendorRules/neon.ts).
   */
  setBranchExpiry(projectId: string, branchId: string, expiresAt: string | null): Promise<BranchRef>;
  /** Replace a branch's contents with another's, keeping the old state under `preserveUnderName`. */
  restoreBranch(spec: RestoreSpec): Promise<{ branch: BranchRef; preserved: BranchRef }>;
  /** A login role that may own objects (the migrator). Returns its password (existing roles get theirs back or reset). */
  ensureRole(projectId: string, branchId: string, role: string): Promise<RoleRef>;
  deleteRole(projectId: string, branchId: string, role: string): Promise<void>;
  /**
   * Drops a role made with SQL (the app role), given by its server name: locally roles are server-wide and every
   * branch copy carries their grants, so it goes from all branches; on Neon from the branch behind `migratorUri`.
   */
  dropSqlRole(projectId: string, physicalName: string, migratorUri: string): Promise<void>;
  ensureDatabase(projectId: string, branchId: string, database: string, ownerRole: string): Promise<void>;
  deleteDatabase(projectId: string, branchId: string, database: string): Promise<void>;
  connectionUri(spec: ConnectionSpec): Promise<string>;
  close(): Promise<void>;
}

export class BackendError extends Error {
  constructor(message: string, readonly details: { project?: string; branch?: string; operation: string }) {
    super(message);
    this.name = "BackendError";
  }
}
