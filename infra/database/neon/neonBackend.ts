import { branchExpiryProblem, maskingRuleProblem, type NeonMaskingRule } from "../../vendorRules/neon";
import { createApiClient, EndpointType, type Api, type Operation } from "@neondatabase/api-client";
import {
  BackendError,
  type BranchRef,
  type BranchSpec,
  type ConnectionSpec,
  type DatabaseBackend,
  type ProjectRef,
  type ProjectSpec,
  type RestoreSpec,
  type RoleRef,
} from "../backend";
import { defaultRetryPolicy, httpFailure, withRetry, type RetryPolicy } from "./retry";
import { dropAppRole } from "../sql/appRole";

export interface NeonBackendOptions {
  apiKey: string;
  /** Neon's public API unless a test points it at a local fake. */
  apiBaseUrl?: string;
  orgId?: string;
  retry?: Partial<RetryPolicy>;
  /** Bound on waiting for one call's operations to finish. */
  operationTimeoutMs?: number;
  pollIntervalMs?: number;
}

type Context = { project?: string; branch?: string; operation: string };
const DONE = new Set(["finished", "skipped"]);
const FAILED = new Set(["failed", "error", "cancelled", "cancelling"]);

/**
 * Neon implementation of the branching seam. Mutations return operations that run asynchronously; every call here
 * waits for them, so a caller never sees a branch it cannot use yet. Objects are looked up by name before they are
 * created, so a rerun after a crash adopts what the first run made.
 */
export class NeonBackend implements DatabaseBackend {
  readonly kind = "neon" as const;
  private readonly api: Api<unknown>;
  private readonly retry: RetryPolicy;
  private readonly operationTimeoutMs: number;
  private readonly pollIntervalMs: number;

  constructor(private readonly options: NeonBackendOptions) {
    this.api = createApiClient({ apiKey: options.apiKey, baseURL: options.apiBaseUrl ?? "https://console.neon.tech/api/v2", timeout: 60_000 });
    this.retry = { ...defaultRetryPolicy(), ...options.retry };
    this.operationTimeoutMs = options.operationTimeoutMs ?? 10 * 60_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
  }

  async close(): Promise<void> {}

  private describe(ctx: Context): string {
    return [`neon ${ctx.operation}`, ctx.project && `project "${ctx.project}"`, ctx.branch && `branch "${ctx.branch}"`].filter(Boolean).join(", ");
  }

  /** One API call with retries; any final failure becomes a BackendError that names project, branch and step. */
  private async call<T>(ctx: Context, fn: () => Promise<{ data: T }>): Promise<T> {
    try {
      return (await withRetry(this.describe(ctx), fn, this.retry)).data;
    } catch (err) {
      if (err instanceof BackendError) throw err;
      const { status } = httpFailure(err);
      const body = (err as { response?: { data?: { message?: string } } }).response?.data?.message;
      throw new BackendError(`${this.describe(ctx)} failed${status ? ` (HTTP ${status})` : ""}: ${body ?? (err as Error).message}`, ctx);
    }
  }

  /** Like call(), but a 404 means "absent" rather than an error. */
  private async find<T>(ctx: Context, fn: () => Promise<{ data: T }>): Promise<T | undefined> {
    try {
      return (await withRetry(this.describe(ctx), fn, this.retry)).data;
    } catch (err) {
      if (httpFailure(err).status === 404) return undefined;
      throw new BackendError(`${this.describe(ctx)} failed: ${(err as Error).message}`, ctx);
    }
  }

  private async waitFor(ctx: Context, operations: Operation[] | undefined): Promise<void> {
    const pending = new Map((operations ?? []).map((o) => [o.id, o]));
    const deadline = Date.now() + this.operationTimeoutMs;
    while (pending.size) {
      for (const [id, op] of pending) {
        const current = DONE.has(op.status) || FAILED.has(op.status) ? op : (await this.call(ctx, () => this.api.getProjectOperation(op.project_id, id))).operation;
        if (DONE.has(current.status)) pending.delete(id);
        else if (FAILED.has(current.status)) {
          throw new BackendError(`${this.describe(ctx)}: operation ${current.action} (${id}) ${current.status}${current.error ? `: ${current.error}` : ""}`, ctx);
        } else pending.set(id, current);
      }
      if (!pending.size) return;
      if (Date.now() > deadline) {
        const waiting = [...pending.values()].map((o) => `${o.action} ${o.id} (${o.status})`).join(", ");
        throw new BackendError(`${this.describe(ctx)}: timed out after ${Math.round(this.operationTimeoutMs / 1000)} s waiting for ${waiting}; rerun later (the step is idempotent)`, ctx);
      }
      await this.retry.sleep(this.pollIntervalMs);
    }
  }

  async ensureProject(spec: ProjectSpec): Promise<ProjectRef> {
    const ctx = { project: spec.name, operation: "ensureProject" };
    const found = await this.findProjectByName(spec.name);
    if (found) return found;
    const created = await this.call(ctx, () =>
      this.api.createProject({
        project: {
          name: spec.name,
          region_id: spec.regionId,
          pg_version: spec.pgVersion as never,
          history_retention_seconds: spec.historyRetentionSeconds,
          org_id: this.options.orgId,
          branch: { name: "main" },
        },
      }),
    );
    await this.waitFor({ ...ctx, project: created.project.id }, created.operations);
    return { projectId: created.project.id, name: spec.name, defaultBranchId: created.branch.id };
  }

  async configureProject(projectId: string, spec: ProjectSpec): Promise<void> {
    if (spec.historyRetentionSeconds === undefined) return;
    const ctx = { project: projectId, operation: "configureProject" };
    const res = await this.call(ctx, () => this.api.updateProject(projectId, { project: { history_retention_seconds: spec.historyRetentionSeconds } }));
    await this.waitFor(ctx, res.operations);
  }

  /**
   * Sets wal_level = logical on every compute of the project (what an online move's source needs). Neon restarts
   * the computes and cannot undo it: callers ask for explicit confirmation first. Idempotent.
   */
  async enableLogicalReplication(projectId: string): Promise<void> {
    const ctx = { project: projectId, operation: "enableLogicalReplication" };
    const res = await this.call(ctx, () => this.api.updateProject(projectId, { project: { settings: { enable_logical_replication: true } } }));
    await this.waitFor(ctx, res.operations);
  }

  physicalRoleName(_projectId: string, role: string): string {
    return role;
  }

  private async findProjectByName(name: string): Promise<ProjectRef | undefined> {
    const ctx = { project: name, operation: "listProjects" };
    let cursor: string | undefined;
    do {
      const page = await this.call(ctx, () => this.api.listProjects({ search: name, limit: 100, cursor, org_id: this.options.orgId }));
      const match = page.projects.find((p) => p.name === name);
      if (match) {
        const branches = await this.call({ ...ctx, project: match.id }, () => this.api.listProjectBranches({ projectId: match.id }));
        const main = branches.branches.find((b) => b.default) ?? branches.branches[0];
        if (!main) throw new BackendError(`neon project "${name}" (${match.id}) has no branches`, ctx);
        return { projectId: match.id, name, defaultBranchId: main.id };
      }
      cursor = page.projects.length === 100 ? page.pagination?.cursor : undefined;
    } while (cursor);
    return undefined;
  }

  async deleteProject(projectId: string): Promise<void> {
    await this.find({ project: projectId, operation: "deleteProject" }, () => this.api.deleteProject(projectId));
  }

  async listBranches(projectId: string): Promise<BranchRef[]> {
    const data = await this.call({ project: projectId, operation: "listBranches" }, () => this.api.listProjectBranches({ projectId }));
    return data.branches.map((b) => ({
      projectId,
      branchId: b.id,
      name: b.name,
      parentBranchId: b.parent_id,
      createdAt: b.created_at,
      expiresAt: b.expires_at,
    }));
  }

  async getBranch(projectId: string, branchId: string): Promise<BranchRef | undefined> {
    const found = await this.find({ project: projectId, branch: branchId, operation: "getBranch" }, () => this.api.getProjectBranch(projectId, branchId));
    if (!found) return undefined;
    const b = found.branch;
    return { projectId, branchId: b.id, name: b.name, parentBranchId: b.parent_id, createdAt: b.created_at, expiresAt: b.expires_at };
  }

  private async branchByName(projectId: string, name: string): Promise<BranchRef | undefined> {
    return (await this.listBranches(projectId)).find((b) => b.name === name);
  }

  async ensureBranch(spec: BranchSpec): Promise<BranchRef> {
    const ctx = { project: spec.projectId, branch: spec.name, operation: "ensureBranch" };
    const existing = await this.branchByName(spec.projectId, spec.name);
    if (existing) return existing;
    const problem = spec.expiresAt === undefined ? undefined : branchExpiryProblem(spec.expiresAt, Date.now());
    if (problem) throw new BackendError(`${this.describe(ctx)}: ${problem}`, ctx);
    const created = await this.call(ctx, () =>
      this.api.createProjectBranch(spec.projectId, {
        branch: { name: spec.name, parent_id: spec.parentBranchId, parent_timestamp: spec.at, expires_at: spec.expiresAt },
        endpoints: [{ type: EndpointType.ReadWrite }],
      }),
    );
    await this.waitFor(ctx, created.operations);
    const b = created.branch;
    return { projectId: spec.projectId, branchId: b.id, name: b.name, parentBranchId: b.parent_id, createdAt: b.created_at, expiresAt: b.expires_at };
  }

  async deleteBranch(projectId: string, branchId: string): Promise<void> {
    const ctx = { project: projectId, branch: branchId, operation: "deleteBranch" };
    const res = await this.find(ctx, () => this.api.deleteProjectBranch({ projectId, branchId }));
    await this.waitFor(ctx, res?.operations);
  }

  async setBranchExpiry(projectId: string, branchId: string, expiresAt: string | null): Promise<BranchRef> {
    const ctx = { project: projectId, branch: branchId, operation: "setBranchExpiry" };
    if (expiresAt !== null) {
      const problem = branchExpiryProblem(expiresAt, Date.now());
      if (problem) throw new BackendError(`${this.describe(ctx)}: ${problem}`, ctx);
    }
    const res = await this.call(ctx, () => this.api.updateProjectBranch(projectId, branchId, { branch: { expires_at: expiresAt } }));
    await this.waitFor(ctx, res.operations);
    const b = res.branch;
    return { projectId, branchId: b.id, name: b.name, parentBranchId: b.parent_id, createdAt: b.created_at, expiresAt: b.expires_at };
  }

  async restoreBranch(spec: RestoreSpec): Promise<{ branch: BranchRef; preserved: BranchRef }> {
    const ctx = { project: spec.projectId, branch: spec.branchId, operation: "restoreBranch" };
    const res = await this.call(ctx, () =>
      this.api.restoreProjectBranch(spec.projectId, spec.branchId, { source_branch_id: spec.sourceBranchId, preserve_under_name: spec.preserveUnderName }),
    );
    await this.waitFor(ctx, res.operations);
    const branches = await this.listBranches(spec.projectId);
    const branch = branches.find((b) => b.branchId === spec.branchId);
    const preserved = branches.find((b) => b.name === spec.preserveUnderName);
    if (!branch || !preserved) throw new BackendError(`restore finished but branch "${spec.branchId}" or preserved "${spec.preserveUnderName}" is not listed`, ctx);
    return { branch, preserved };
  }

  async ensureRole(projectId: string, branchId: string, role: string): Promise<RoleRef> {
    const ctx = { project: projectId, branch: branchId, operation: `ensureRole ${role}` };
    const existing = await this.find(ctx, () => this.api.getProjectBranchRole(projectId, branchId, role));
    if (existing) {
      const { password } = await this.call(ctx, () => this.api.getProjectBranchRolePassword(projectId, branchId, role));
      return { name: role, password };
    }
    const created = await this.call(ctx, () => this.api.createProjectBranchRole(projectId, branchId, { role: { name: role } }));
    await this.waitFor(ctx, created.operations);
    if (!created.role.password) throw new BackendError(`neon created role "${role}" without returning a password`, ctx);
    return { name: role, password: created.role.password };
  }

  async deleteRole(projectId: string, branchId: string, role: string): Promise<void> {
    const ctx = { project: projectId, branch: branchId, operation: `deleteRole ${role}` };
    const res = await this.find(ctx, () => this.api.deleteProjectBranchRole(projectId, branchId, role));
    await this.waitFor(ctx, res?.operations);
  }

  async dropSqlRole(_projectId: string, physicalName: string, migratorUri: string): Promise<void> {
    await dropAppRole(migratorUri, physicalName);
  }

  async ensureDatabase(projectId: string, branchId: string, database: string, ownerRole: string): Promise<void> {
    const ctx = { project: projectId, branch: branchId, operation: `ensureDatabase ${database}` };
    if (await this.find(ctx, () => this.api.getProjectBranchDatabase(projectId, branchId, database))) return;
    const created = await this.call(ctx, () => this.api.createProjectBranchDatabase(projectId, branchId, { database: { name: database, owner_name: ownerRole } }));
    await this.waitFor(ctx, created.operations);
  }

  async deleteDatabase(projectId: string, branchId: string, database: string): Promise<void> {
    const ctx = { project: projectId, branch: branchId, operation: `deleteDatabase ${database}` };
    const res = await this.find(ctx, () => this.api.deleteProjectBranchDatabase(projectId, branchId, database));
    await this.waitFor(ctx, res?.operations);
  }

  /**
   * A branch of `parentBranchId` whose data Neon masks with `maskingRules` (PostgreSQL Anonymizer, static), started
   * at once. A rerun finds the branch by name, replaces its rules (PATCH replaces them all) and starts it again.
   */
  async ensureAnonymizedBranch(spec: BranchSpec & { maskingRules: NeonMaskingRule[] }): Promise<BranchRef> {
    const ctx = { project: spec.projectId, branch: spec.name, operation: "ensureAnonymizedBranch" };
    const problems = spec.maskingRules.map(maskingRuleProblem).filter(Boolean);
    if (problems.length) throw new BackendError(`${this.describe(ctx)}: ${problems.join("; ")}`, ctx);
    const problem = spec.expiresAt === undefined ? undefined : branchExpiryProblem(spec.expiresAt, Date.now());
    if (problem) throw new BackendError(`${this.describe(ctx)}: ${problem}`, ctx);
    const existing = await this.branchByName(spec.projectId, spec.name);
    if (existing) {
      await this.call(ctx, () => this.api.updateMaskingRules(spec.projectId, existing.branchId, { masking_rules: spec.maskingRules }));
      await this.call(ctx, () => this.api.startAnonymization(spec.projectId, existing.branchId));
      return existing;
    }
    const created = await this.call(ctx, () =>
      this.api.createProjectBranchAnonymized(spec.projectId, {
        branch_create: { branch: { name: spec.name, parent_id: spec.parentBranchId, expires_at: spec.expiresAt }, endpoints: [{ type: EndpointType.ReadWrite }] },
        masking_rules: spec.maskingRules,
        start_anonymization: true,
      }),
    );
    await this.waitFor(ctx, created.operations);
    const b = created.branch;
    return { projectId: spec.projectId, branchId: b.id, name: b.name, parentBranchId: b.parent_id, createdAt: b.created_at, expiresAt: b.expires_at };
  }

  /** Where an anonymized branch's masking stands: `anonymized` when done, `error`/`initialization_error` when failed. */
  async anonymizationStatus(projectId: string, branchId: string): Promise<{ state: string; message?: string }> {
    const s = await this.call({ project: projectId, branch: branchId, operation: "anonymizationStatus" }, () => this.api.getAnonymizedBranchStatus(projectId, branchId));
    return { state: s.state, message: s.status_message };
  }

  async connectionUri(spec: ConnectionSpec): Promise<string> {
    const ctx = { project: spec.projectId, branch: spec.branchId, operation: "connectionUri" };
    const { uri } = await this.call(ctx, () =>
      this.api.getConnectionUri({ projectId: spec.projectId, branch_id: spec.branchId, database_name: spec.database, role_name: spec.role, pooled: spec.pooled ?? false }),
    );
    return uri;
  }
}
