import { branchExpiryProblem, NEON_EXPIRY_RESTRICTIONS } from "../../vendorRules/neon";
import { randomBytes } from "node:crypto";
import { Client } from "pg";
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
import { localBranchDatabase, localProjectPrefix, localRoleName, quoteIdent, quoteLiteral } from "../../naming";
import { dumpAndRestore } from "./branchCopy";
import { ensurePooler, throughPooler } from "./pgbouncer";

/**
 * Local implementation of the branching seam on one Postgres server.
 *  - a project is a namespace; its branches are databases named `<project>__<branch>`;
 *  - branch metadata (parent, created, expiry) lives in the database's COMMENT, so the server is the only state;
 *  - a branch from a parent is a consistent copy (template copy, or pg_dump's snapshot when the parent is busy);
 *  - roles are server-wide, namespaced `<project>__<role>`.
 */
const DEFAULT_BRANCH = "main";

interface BranchComment {
  bloomBranch: { project: string; branch: string; parent?: string; createdAt: string; expiresAt?: string };
}

export class LocalPostgresBackend implements DatabaseBackend {
  readonly kind = "local" as const;
  private admin?: Client;

  /** `pooler`: the PgBouncer (transaction mode) that pooled connection URIs go through; absent = pooled is direct. */
  /** `now` is the clock branch expiry runs on (tests move it forward). */
  constructor(private readonly serverUrl: string, private readonly pooler?: { port: number; stateDir: string }, private readonly now: () => number = Date.now) {}

  private async sql(): Promise<Client> {
    if (!this.admin) {
      const client = new Client({ connectionString: this.serverUrl });
      try {
        await client.connect();
      } catch (err) {
        throw new BackendError(`cannot reach the local Postgres server (${redactUrl(this.serverUrl)}): ${(err as Error).message}. Start it or fix bloom:database.local.serverUrl`, { operation: "connect" });
      }
      this.admin = client;
    }
    return this.admin;
  }

  async close(): Promise<void> {
    await this.admin?.end();
    this.admin = undefined;
  }

  private urlFor(database: string, role?: string, password?: string): string {
    const url = new URL(this.serverUrl);
    url.pathname = `/${database}`;
    if (role) {
      url.username = role;
      url.password = password ?? "";
    }
    return url.toString();
  }

  private async readBranch(projectId: string, branch: string): Promise<BranchRef | undefined> {
    const db = localBranchDatabase(projectId, branch);
    const { rows } = await (await this.sql()).query<{ comment: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
      [db],
    );
    if (!rows.length) return undefined;
    const meta = parseComment(rows[0]!.comment);
    return {
      projectId,
      branchId: branch,
      name: branch,
      parentBranchId: meta?.parent,
      createdAt: meta?.createdAt ?? new Date(0).toISOString(),
      expiresAt: meta?.expiresAt,
    };
  }

  private async writeComment(projectId: string, ref: Omit<BranchRef, "projectId" | "branchId">): Promise<void> {
    const comment: BranchComment = {
      bloomBranch: { project: projectId, branch: ref.name, parent: ref.parentBranchId, createdAt: ref.createdAt, expiresAt: ref.expiresAt },
    };
    await (await this.sql()).query(`COMMENT ON DATABASE ${quoteIdent(localBranchDatabase(projectId, ref.name))} IS ${quoteLiteral(JSON.stringify(comment))}`);
  }

  async ensureProject(spec: ProjectSpec): Promise<ProjectRef> {
    const existing = await this.readBranch(spec.name, DEFAULT_BRANCH);
    if (!existing) {
      await (await this.sql()).query(`CREATE DATABASE ${quoteIdent(localBranchDatabase(spec.name, DEFAULT_BRANCH))}`);
      await this.writeComment(spec.name, { name: DEFAULT_BRANCH, createdAt: new Date().toISOString() });
    }
    return { projectId: spec.name, name: spec.name, defaultBranchId: DEFAULT_BRANCH };
  }

  /** A loopback server keeps no history, so there is nothing to configure. */
  async configureProject(): Promise<void> {}

  physicalRoleName(projectId: string, role: string): string {
    return localRoleName(projectId, role);
  }

  async deleteProject(projectId: string): Promise<void> {
    for (const branch of await this.listBranches(projectId)) await this.dropDatabase(localBranchDatabase(projectId, branch.branchId));
    const prefix = localProjectPrefix(projectId);
    const { rows } = await (await this.sql()).query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)", [prefix]);
    for (const r of rows) await (await this.sql()).query(`DROP ROLE IF EXISTS ${quoteIdent(r.rolname)}`);
  }

  async ensureBranch(spec: BranchSpec): Promise<BranchRef> {
    await this.reapExpired(spec.projectId);
    const existing = await this.readBranch(spec.projectId, spec.name);
    if (existing) return existing;
    const ctx = { project: spec.projectId, branch: spec.name, operation: "ensureBranch" };
    if (spec.expiresAt) {
      const problem = branchExpiryProblem(spec.expiresAt, this.now());
      if (problem) throw new BackendError(`branch "${spec.name}" of "${spec.projectId}": ${problem}`, ctx);
    }
    if (spec.at) {
      throw new BackendError(
        `local backend cannot branch "${spec.name}" at ${spec.at}: a loopback Postgres keeps no history. Branch from now, or use the neon backend for point-in-time branches`,
        { project: spec.projectId, branch: spec.name, operation: "ensureBranch" },
      );
    }
    const parent = spec.parentBranchId ?? DEFAULT_BRANCH;
    const parentRef = await this.readBranch(spec.projectId, parent);
    if (!parentRef) {
      throw new BackendError(`parent branch "${parent}" of "${spec.name}" does not exist in project "${spec.projectId}"`, ctx);
    }
    if (parentRef.expiresAt) throw new BackendError(`branch "${spec.name}" from "${parent}" (expires ${parentRef.expiresAt}): ${NEON_EXPIRY_RESTRICTIONS.childOfExpiring}; clear its expiry first`, ctx);
    await this.copyDatabase(localBranchDatabase(spec.projectId, parent), localBranchDatabase(spec.projectId, spec.name));
    const ref = { name: spec.name, parentBranchId: parent, createdAt: new Date().toISOString(), expiresAt: spec.expiresAt };
    await this.writeComment(spec.projectId, ref);
    return { projectId: spec.projectId, branchId: spec.name, ...ref };
  }

  /** Template copy is instant and consistent but needs the source idle; otherwise a pg_dump snapshot copy. */
  private async copyDatabase(source: string, target: string): Promise<void> {
    const admin = await this.sql();
    // Postgres waits 5 s before refusing a busy template, so look first; the catch covers a session arriving meanwhile.
    const busy = (await admin.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() LIMIT 1", [source])).rowCount;
    // The copy keeps the parent's owner, so the migrator owns every branch (and its public schema) alike.
    const owner = (await admin.query<{ owner: string }>("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1", [source])).rows[0]!.owner;
    if (!busy) {
      try {
        await admin.query(`CREATE DATABASE ${quoteIdent(target)} TEMPLATE ${quoteIdent(source)} OWNER ${quoteIdent(owner)}`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== "55006") throw err; // 55006: source is being accessed by other users
      }
    }
    await admin.query(`CREATE DATABASE ${quoteIdent(target)} OWNER ${quoteIdent(owner)}`);
    const version = (await admin.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v;
    const major = Math.floor(Number(version) / 10_000);
    try {
      await dumpAndRestore(this.urlFor(source), this.urlFor(target), major);
    } catch (err) {
      await this.dropDatabase(target); // never leave a half-copied branch behind under a valid name
      throw err;
    }
  }

  async listBranches(projectId: string): Promise<BranchRef[]> {
    await this.reapExpired(projectId);
    return this.listBranchesAsStored(projectId);
  }

  private async listBranchesAsStored(projectId: string): Promise<BranchRef[]> {
    const prefix = localProjectPrefix(projectId);
    const { rows } = await (await this.sql()).query<{ datname: string; comment: string | null }>(
      "SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname",
      [prefix],
    );
    return rows
      .map((r) => parseComment(r.comment))
      .filter((m): m is NonNullable<typeof m> => m !== undefined && m.project === projectId)
      .map((m) => ({ projectId, branchId: m.branch, name: m.branch, parentBranchId: m.parent, createdAt: m.createdAt, expiresAt: m.expiresAt }));
  }

  async getBranch(projectId: string, branchId: string): Promise<BranchRef | undefined> {
    await this.reapExpired(projectId);
    return this.readBranch(projectId, branchId);
  }

  async setBranchExpiry(projectId: string, branchId: string, expiresAt: string | null): Promise<BranchRef> {
    const ctx = { project: projectId, branch: branchId, operation: "setBranchExpiry" };
    await this.reapExpired(projectId);
    const branch = await this.readBranch(projectId, branchId);
    if (!branch) throw new BackendError(`branch "${branchId}" does not exist in project "${projectId}" (expired, or never made)`, ctx);
    if (expiresAt !== null) {
      const problem = branchExpiryProblem(expiresAt, this.now());
      if (problem) throw new BackendError(`branch "${branchId}" of "${projectId}": ${problem}`, ctx);
      if (branchId === DEFAULT_BRANCH) throw new BackendError(`branch "${branchId}": ${NEON_EXPIRY_RESTRICTIONS.expireDefault}`, ctx);
      if ((await this.listBranchesAsStored(projectId)).some((b) => b.parentBranchId === branchId)) throw new BackendError(`branch "${branchId}": ${NEON_EXPIRY_RESTRICTIONS.expireParent}`, ctx);
    }
    const updated = { ...branch, expiresAt: expiresAt ?? undefined };
    await this.writeComment(projectId, updated);
    return updated;
  }

  /**
   * Neon deletes a branch at its expiry with its computes; the local stack does the same, on each call that reads
   * branches, so what passes here would pass there.
   */
  private async reapExpired(projectId: string): Promise<void> {
    const t = this.now();
    for (const b of await this.listBranchesAsStored(projectId)) {
      if (b.expiresAt && Date.parse(b.expiresAt) <= t && b.branchId !== DEFAULT_BRANCH) await this.dropDatabase(localBranchDatabase(projectId, b.branchId));
    }
  }

  async deleteBranch(projectId: string, branchId: string): Promise<void> {
    if (branchId === DEFAULT_BRANCH) {
      throw new BackendError(`refusing to delete the default branch of "${projectId}"; delete the project instead`, { project: projectId, branch: branchId, operation: "deleteBranch" });
    }
    await this.dropDatabase(localBranchDatabase(projectId, branchId));
  }

  private async dropDatabase(name: string): Promise<void> {
    await (await this.sql()).query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  }

  async restoreBranch(spec: RestoreSpec): Promise<{ branch: BranchRef; preserved: BranchRef }> {
    const ctx = { project: spec.projectId, branch: spec.branchId, operation: "restoreBranch" };
    const target = await this.readBranch(spec.projectId, spec.branchId);
    const source = await this.readBranch(spec.projectId, spec.sourceBranchId);
    if (!target || !source) throw new BackendError(`restore needs both branches: "${spec.branchId}" ${target ? "exists" : "is missing"}, source "${spec.sourceBranchId}" ${source ? "exists" : "is missing"}`, ctx);
    if (await this.readBranch(spec.projectId, spec.preserveUnderName)) {
      throw new BackendError(`a branch named "${spec.preserveUnderName}" already exists: choose another preserve name or delete it`, ctx);
    }
    const admin = await this.sql();
    const targetDb = localBranchDatabase(spec.projectId, spec.branchId);
    const preservedDb = localBranchDatabase(spec.projectId, spec.preserveUnderName);
    // Renaming needs the database idle; like Neon's restore, open sessions on the restored branch are dropped.
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [targetDb]);
    await admin.query(`ALTER DATABASE ${quoteIdent(targetDb)} RENAME TO ${quoteIdent(preservedDb)}`);
    const preserved = { name: spec.preserveUnderName, parentBranchId: target.parentBranchId, createdAt: target.createdAt };
    await this.writeComment(spec.projectId, preserved);
    await this.copyDatabase(localBranchDatabase(spec.projectId, spec.sourceBranchId), targetDb);
    const restored = { name: spec.branchId, parentBranchId: target.parentBranchId, createdAt: new Date().toISOString() };
    await this.writeComment(spec.projectId, restored);
    return {
      branch: { projectId: spec.projectId, branchId: spec.branchId, ...restored },
      preserved: { projectId: spec.projectId, branchId: spec.preserveUnderName, ...preserved },
    };
  }

  async ensureRole(projectId: string, _branchId: string, role: string): Promise<RoleRef> {
    const name = localRoleName(projectId, role);
    const password = randomBytes(18).toString("base64url");
    const admin = await this.sql();
    const exists = (await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name])).rowCount;
    // The migrator owns the schema, creates the app role and runs backfills: no superuser, but BYPASSRLS (as
    // Neon's API-made roles have through neon_superuser), since FORCE ROW LEVEL SECURITY binds table owners too.
    const attrs = `LOGIN CREATEROLE NOSUPERUSER BYPASSRLS PASSWORD ${quoteLiteral(password)}`;
    await admin.query(`${exists ? "ALTER" : "CREATE"} ROLE ${quoteIdent(name)} WITH ${attrs}`);
    return { name, password };
  }

  async deleteRole(projectId: string, _branchId: string, role: string): Promise<void> {
    await this.dropSqlRole(projectId, localRoleName(projectId, role));
  }

  async dropSqlRole(projectId: string, name: string): Promise<void> {
    const admin = await this.sql();
    if (!(await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name])).rowCount) return;
    // Objects in other branch databases may still reference the role; reassign them on each branch first.
    for (const branch of await this.listBranches(projectId)) {
      const client = new Client({ connectionString: this.urlFor(localBranchDatabase(projectId, branch.branchId)) });
      await client.connect();
      try {
        await client.query(`REASSIGN OWNED BY ${quoteIdent(name)} TO CURRENT_USER`);
        await client.query(`DROP OWNED BY ${quoteIdent(name)}`);
      } finally {
        await client.end();
      }
    }
    await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`);
  }

  /** A branch is one database locally, so "a database on the branch" is that database, handed to its owner. */
  async ensureDatabase(projectId: string, branchId: string, _database: string, ownerRole: string): Promise<void> {
    const db = localBranchDatabase(projectId, branchId);
    if (!(await this.readBranch(projectId, branchId))) {
      throw new BackendError(`branch "${branchId}" does not exist in project "${projectId}"`, { project: projectId, branch: branchId, operation: "ensureDatabase" });
    }
    await (await this.sql()).query(`ALTER DATABASE ${quoteIdent(db)} OWNER TO ${quoteIdent(ownerRole)}`);
  }

  /** Dropping the only database of a branch would drop the branch: hand it back to the server owner instead. */
  async deleteDatabase(projectId: string, branchId: string, _database: string): Promise<void> {
    if (!(await this.readBranch(projectId, branchId))) return;
    await (await this.sql()).query(`ALTER DATABASE ${quoteIdent(localBranchDatabase(projectId, branchId))} OWNER TO CURRENT_USER`);
  }

  async connectionUri(spec: ConnectionSpec): Promise<string> {
    const direct = this.urlFor(localBranchDatabase(spec.projectId, spec.branchId), spec.role, spec.password);
    if (!spec.pooled || !this.pooler) return direct;
    return throughPooler(direct, await ensurePooler(this.serverUrl, this.pooler.port, this.pooler.stateDir));
  }
}

function parseComment(comment: string | null): BranchComment["bloomBranch"] | undefined {
  if (!comment) return undefined;
  try {
    return (JSON.parse(comment) as BranchComment).bloomBranch;
  } catch {
    return undefined;
  }
}

/** For error messages: the server, never the credentials. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "<unparsable url>";
  }
}

/**
 * The server's own (superuser) role on the database `databaseUrl` names: what creates publications, slots and
 * subscriptions for an online move on a local server (trust auth: a subscription owned by a non-superuser would
 * be refused for connecting without a password).
 */
export function serverAdminUrl(serverUrl: string, databaseUrl: string): string {
  const admin = new URL(serverUrl);
  const db = new URL(databaseUrl);
  if (admin.host !== db.host) throw new Error(`database ${redactUrl(databaseUrl)} is not on the local server ${redactUrl(serverUrl)}`);
  admin.pathname = db.pathname;
  return admin.toString();
}
