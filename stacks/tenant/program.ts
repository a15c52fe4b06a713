import * as pulumi from "@pulumi/pulumi";
import path from "node:path";
import { PoolDatabase } from "../../components/database/poolDatabase";
import { MigrationHook } from "../../components/migrations/migrationHook";
import { TenantBoundary } from "../../components/tenancy/tenantBoundary";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { tenantIdProblem } from "../../infra/config/schema";
import { tenantProjectName } from "../../infra/naming";
import type { TenantCatalogEntry } from "../../components/tenancy/tenantRegistration";
import type { BackendSettings } from "../../infra";
import { tenantBackendSettings, type TenantDatabaseSettings } from "../platform/backendSettings";
import { TenantRecordResource } from "../../components/tenancy/tenantRecord";

/**
 * A dedicated tenant's stack (`<env>-<tenant>`): its own Neon project (Neon's project-per-tenant), built like the
 * pool (migrator, database, RLS-bound app role, connection that follows a rollback), with its own migration hook.
 * It reads the platform stack's tenant catalog and database settings by StackReference, so the platform stays the
 * one place tenants are declared; one stack per tenant bounds the blast radius and lets onboarding run in parallel.
 */
export interface TenantStackConfig {
  tenantId: string;
  environment: string;
  platformStack: string;
  appBranch?: string;
  migrationsDir?: string;
}

export function tenantProgram(cfg: TenantStackConfig, neonApiKey: () => pulumi.Output<string>) {
  const idProblem = tenantIdProblem(cfg.tenantId);
  if (idProblem) throw new Error(`bloom-tenant:tenantId "${cfg.tenantId}" ${idProblem}`);
  if (!["local", "staging", "prod"].includes(cfg.environment)) throw new Error(`bloom-tenant:environment must be local, staging or prod (got "${cfg.environment}")`);
  const platform = new pulumi.StackReference(cfg.platformStack);
  // A wrong tenant fails the deployment when the catalog arrives, before any resource is created.
  const entry = platform.requireOutput("tenantCatalog").apply((catalog) => dedicatedEntry(catalog as TenantCatalogEntry[], cfg.tenantId, cfg.platformStack));
  const settings = platform.requireOutput("databaseSettings") as pulumi.Output<TenantDatabaseSettings>;
  // The full backend settings (local server and pooler, Neon API base and org), so the tenant's database sits
  // where the platform's does.
  const backend: pulumi.Output<BackendSettings> = settings.apply((s) => tenantBackendSettings(s, neonApiKey));
  const protectData = cfg.environment === "prod";
  const db = new PoolDatabase(`tenant-${cfg.tenantId}`, {
    backend,
    projectName: tenantProjectName(cfg.environment, cfg.tenantId),
    regionId: entry.apply((e) => e.region ?? ""),
    pgVersion: settings.apply((s) => s.pgVersion ?? 17),
    historyRetentionSeconds: settings.apply((s) => s.historyRetentionSeconds ?? 86_400),
    protectData,
    appBranch: cfg.appBranch ?? "main",
  });
  const hook = new MigrationHook(`tenant-${cfg.tenantId}-migrations`, {
    backend,
    migrationsDir: path.resolve(REPO_ROOT, cfg.migrationsDir ?? "prisma/migrations"),
    targets: [{ name: `tenant:${cfg.tenantId}`, projectId: db.projectId, branchId: db.appBranchId, migratorUrl: db.migratorUrl }],
    region: entry.apply((e) => e.region ?? "local"),
  }, { dependsOn: [db] });
  // The same boundary as the pool: the app's allow-list, and RLS following tenancy_enabled in the platform's store.
  const store = pulumi.all([platform.requireOutput("kvRestUrl"), platform.requireOutput("kvRestToken"), platform.requireOutput("kvKeyPrefix")])
    .apply(([restUrl, restToken, prefix]) => ({ restUrl: restUrl as string, restToken: restToken as string, prefix: prefix as string }));
  const boundary = new TenantBoundary(`tenant-${cfg.tenantId}-boundary`, {
    backend,
    migratorUrl: db.migratorUrl,
    appRoleName: db.appRoleName,
    migrationsHash: hook.migrationsHash,
    store: pulumi.secret(store),
    // The platform's declared default: a change there re-applies the store's value here too.
    declaredEnabled: platform.getOutput("flags").apply((f) => Boolean((f as Record<string, { default?: boolean }> | undefined)?.tenancy_enabled?.default)),
  }, { dependsOn: [hook] });
  // The database holds exactly this clinic: its row written, the baseline's seeded `legacy` row removed.
  new TenantRecordResource(`tenant-${cfg.tenantId}-clinic`, {
    backend,
    migratorUrl: db.migratorUrl,
    tenant: entry.apply((e) => ({ id: e.id, name: e.name, tier: e.tier, isolation: "dedicated" as const, location: { kind: "dedicated" as const, stack: e.stack!, project: e.projectName! } })),
    scope: "dedicated",
    guardData: cfg.environment !== "local",
  }, { dependsOn: [hook] });
  return {
    tenantId: cfg.tenantId,
    tenancyMode: boundary.mode,
    projectId: db.projectId,
    appBranchId: db.appBranchId,
    appDatabaseUrl: db.appUrl,
    migratorDatabaseUrl: db.migratorUrl,
    lastDeployId: hook.deployId,
    preDeploySnapshots: hook.snapshots,
  };
}

/** The catalog entry of a dedicated tenant, or an error that says what to change in the platform stack. */
export function dedicatedEntry(catalog: TenantCatalogEntry[], tenantId: string, platformStack: string): TenantCatalogEntry {
  const found = catalog.find((t) => t.id === tenantId);
  if (!found) throw new Error(`tenant "${tenantId}" is not in ${platformStack}'s bloom:tenants: add it there first`);
  if (found.isolation !== "dedicated") throw new Error(`tenant "${tenantId}" is pooled in ${platformStack}: set isolation: dedicated before giving it a stack`);
  return found;
}
