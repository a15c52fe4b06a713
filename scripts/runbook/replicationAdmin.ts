import { withClient } from "../../infra/database/sql/withClient";
import { localServerUrl } from "../../infra/database/createBackend";
import { serverAdminUrl } from "../../infra/database/local/localPostgresBackend";
import { NeonBackend } from "../../infra/database/neon/neonBackend";
import { replicationReadiness, slotLagBytes, type ServerReadiness } from "../../infra/tenancy/move/replication";
import { MoveRefused } from "../../infra/tenancy/move/tenantMove";
import type { MoveDirection } from "../../infra/tenancy/move/moveJournal";
import type { StackContext } from "./stackContext";
import type { TenantHandle } from "./tenantStackAccess";

/**
 * Who runs an online move's replication, per backend. Local: the server's superuser (with trust auth a
 * subscription owned by anyone else is refused for connecting without a password). Neon: the migrator role, a
 * member of neon_superuser (REPLICATION, may create subscriptions); the source project needs logical replication
 * turned on, which Neon cannot undo — so only with `--enable-logical-replication`.
 */
export interface ReplicationAdmin {
  adminUrl(databaseUrl: string): Promise<string>;
  readiness: ServerReadiness;
  /** Neon: turns logical replication on for the source project (after the operator confirmed). */
  enable?: () => Promise<void>;
}

export async function replicationAdminUrl(ctx: StackContext, databaseUrl: string): Promise<string> {
  const db = ctx.config.database;
  if (db.backend === "local") return serverAdminUrl(localServerUrl({ kind: "local", serverUrl: db.local?.serverUrl }), databaseUrl);
  return databaseUrl;
}

export async function replicationAdmin(ctx: StackContext, handle: TenantHandle, direction: MoveDirection, sourceUrl: string,
  opts: { enableLogicalReplication?: boolean; dryRun?: boolean }): Promise<ReplicationAdmin> {
  const adminUrl = (db: string) => replicationAdminUrl(ctx, db);
  const readiness = await withClient(await adminUrl(sourceUrl), (c) => replicationReadiness(c), "bloom-move-check");
  if (ctx.config.database.backend !== "neon" || readiness.walLevel === "logical") return { adminUrl, readiness };
  const project = direction === "extract" ? "the pool's project" : `project ${handle.dedicated.project}`;
  if (!opts.enableLogicalReplication && !opts.dryRun) {
    throw new MoveRefused(`--online on Neon needs logical replication on ${project} (the source): wal_level becomes logical for good, its computes restart (connections drop and reconnect), and Neon drops slots left inactive ~40 h. Nothing was changed; repeat with --enable-logical-replication to confirm`);
  }
  const projectId = direction === "extract" ? await ctx.output<string>("poolProjectId") : (await (await handle.openStack()).outputs()).projectId?.value as string;
  return {
    adminUrl,
    // wal_level is what --enable-logical-replication changes: the other checks still stand.
    readiness: { ...readiness, problems: readiness.problems.filter((p) => !p.startsWith("wal_level")), walLevel: `${readiness.walLevel} (set to logical on ${project} before the move)` },
    enable: async () => {
      const backend = await ctx.backend();
      if (!(backend instanceof NeonBackend)) throw new Error("enabling logical replication is a Neon operation");
      await backend.enableLogicalReplication(projectId);
    },
  };
}

/** `, replication lag 1.2 MB` for `bloom tenants status` (empty when the source cannot be reached). */
export async function replicationLag(ctx: StackContext, slot: string, poolUrl: string, direction: MoveDirection, handle: TenantHandle): Promise<string> {
  try {
    const sourceUrl = direction === "extract" ? poolUrl : ((await (await handle.openStack()).outputs()).migratorDatabaseUrl?.value as string);
    const lag = await withClient(await replicationAdminUrl(ctx, sourceUrl), (c) => slotLagBytes(c, slot), "bloom-status");
    return lag === undefined ? ", no replication slot (yet)" : `, replication lag ${(lag / 1e6).toFixed(2)} MB`;
  } catch {
    return "";
  }
}
