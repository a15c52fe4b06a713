import * as pulumi from "@pulumi/pulumi";
import { PoolDatabase } from "../../components/database/poolDatabase";
import { TenantRegistration } from "../../components/tenancy/tenantRegistration";
import type { PlatformConfig } from "../../infra/config/schema";
import { poolProjectName } from "../../infra/naming";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { MigrationHook } from "../../components/migrations/migrationHook";
import { existsSync } from "node:fs";
import path from "node:path";
import { backendSettings, kvSettings, tenantDatabaseSettings } from "./backendSettings";
import { FlagStore } from "../../components/kv/flagStore";
import { TenantBoundary } from "../../components/tenancy/tenantBoundary";
import { effectiveBudgets } from "../../infra/kv/budgetStore";
import { flagOverridesOf } from "../../infra/kv/flagStore";
import * as aws from "@pulumi/aws";
import * as cloudflare from "@pulumi/cloudflare";
import { StagingCopy } from "../../components/staging/stagingCopy";
import { Observability } from "../../components/observability/observability";
import { Edge } from "../../components/edge/edge";
import { hasTenantSlo } from "../../infra/observability/slo";
import { tenantDataRegion } from "../../infra/compliance/residency";

export interface PlatformSecrets {
  /** Read lazily: only Neon stacks need (and require) the key. */
  neonApiKey: () => pulumi.Output<string>;
  /** Read lazily: only Upstash stacks need it. */
  upstashApiKey: () => pulumi.Output<string>;
  /** Read lazily: only stacks with bloom:edge need it. */
  cloudflareApiToken: () => pulumi.Output<string>;
}

/**
 * The platform stack: the environment's shared pool database and the tenant catalog. Dedicated tenants get their
 * own project in a tenant stack (`stacks/tenant`), which reads this stack's outputs.
 */
export function platformProgram(config: PlatformConfig, secrets: PlatformSecrets) {
  const env = config.environment;
  const migrationsDir = path.resolve(REPO_ROOT, config.migrations.dir);
  if (!existsSync(migrationsDir)) throw new Error(`bloom:migrations.dir: ${migrationsDir} does not exist; point it at the app's prisma/migrations folder`);
  const backend = backendSettings(config.database, secrets.neonApiKey);
  const neon = config.database.neon;
  const pool = new PoolDatabase("pool", {
    backend,
    projectName: poolProjectName(env),
    regionId: neon?.regionId,
    pgVersion: neon?.pgVersion,
    historyRetentionSeconds: neon?.historyRetentionSeconds,
    protectData: env === "prod",
    appBranch: config.appBranch,
  });
  // Dedicated tenants' databases are migrated by the same hook in their tenant stacks.
  const migrations = new MigrationHook("pool-migrations", {
    backend,
    migrationsDir,
    targets: [{ name: "pool", projectId: pool.projectId, branchId: pool.appBranchId, migratorUrl: pool.migratorUrl }],
    concurrency: config.migrations.concurrency,
    snapshotTtlHours: config.migrations.snapshotTtlHours,
    pausedReason: config.rollback && `rollback (${config.rollback.mode}) to ${config.rollback.to} in effect since ${config.rollback.at}`,
    region: neon?.regionId,
  }, { dependsOn: [pool] });
  // Flags and budgets live in the environment's store; locally stacks share one Redis, so keys carry the stack.
  // The store holds flag defaults and tier budgets; each tenant writes its own budget (its own, or its tier's,
  // mirrored by the edge's rate limits) and flag overrides as children of its component.
  const budgets = effectiveBudgets(config);
  const store = new FlagStore("flags", {
    settings: kvSettings(config.kv, secrets.upstashApiKey),
    databaseName: poolProjectName(env),
    keyPrefix: config.kv.backend === "local" ? `bloom:${pulumi.getStack()}:` : "bloom:",
    flags: Object.fromEntries(Object.entries(config.flags).map(([flag, d]) => [flag, { default: d.default, description: d.description }])),
    tierBudgets: budgets.tiers,
    protectData: env === "prod",
  });
  // After the migrations: the app's privilege allow-list, and RLS following tenancy_enabled as the store resolves it.
  const boundary = new TenantBoundary("pool-boundary", {
    backend,
    migratorUrl: pool.migratorUrl,
    appRoleName: pool.appRoleName,
    migrationsHash: migrations.migrationsHash,
    store: store.access,
    declaredEnabled: config.flags.tenancy_enabled?.default ?? false,
  }, { dependsOn: [migrations, store] });
  // Where each tenant's rows live: the pool's region, or its own project's (policy: tenant-residency).
  const poolRegion = neon?.regionId ?? "local";
  const edgeSettings = config.edge && { ...config.edge, provider: new cloudflare.Provider("cloudflare", { apiToken: secrets.cloudflareApiToken() }) };
  // The observability templates are synthesized on a worker thread: start it before the tenants register, so the
  // CDK work overlaps the rest of the program. Its tenants are the ones whose contribution is an SLO (hasTenantSlo).
  const obs = config.observability;
  const observability = obs && new Observability("observability", {
    spec: { environment: env, alertEmail: obs.alertEmail, logRetentionDays: obs.logRetentionDays, availability: obs.slo.availability, latencyP95Ms: obs.slo.latencyP95Ms },
    region: obs.region,
    tenants: config.tenants,
    sloTenants: config.tenants.filter(hasTenantSlo).map((t) => t.id),
    provider: new aws.Provider("aws", { region: obs.region as aws.Region }),
  });
  const tenants = config.tenants.map((t) => new TenantRegistration(`tenant-${t.id}`, {
    environment: env,
    tenant: t,
    dataRegion: tenantDataRegion(t, poolRegion),
    edge: edgeSettings,
    pool: { backend, migratorUrl: pool.migratorUrl, dependsOn: [migrations] },
    store: { access: store.access, dependsOn: store.flagResources },
    budget: budgets.tenants[t.id],
    flagOverrides: flagOverridesOf(config.flags, t.id),
  }));
  // The zone's rate-limit phase is rendered from every tenant's budget (a zone ruleset owns its whole phase).
  const edge = edgeSettings && new Edge("edge", { zoneId: edgeSettings.zoneId, zone: edgeSettings.zone, plan: edgeSettings.plan, adoptedRulesets: edgeSettings.adoptedRulesets, budgets: budgets.tenants, provider: edgeSettings.provider });

  // A masked copy of another stack's data (bloom staging refresh makes it; the pack checks how it is anonymised).
  const copy = config.stagingCopy;
  if (copy) {
    new StagingCopy("staging-copy", {
      environment: env,
      sourceStack: copy.from,
      via: config.database.backend === "neon" ? "anonymized-branch" : "masked-copy",
      region: poolRegion,
      keepPreviousDays: copy.keepPreviousDays,
    });
  }

  return {
    environment: env,
    databaseBackend: config.database.backend,
    poolProjectId: pool.projectId,
    poolMainBranchId: pool.mainBranchId,
    poolDatabaseName: pool.databaseName,
    appBranch: config.appBranch,
    appBranchId: pool.appBranchId,
    migrationsHash: migrations.migrationsHash,
    lastDeployId: migrations.deployId,
    preDeploySnapshots: migrations.snapshots,
    rollback: config.rollback ?? null,
    tenancyMode: boundary.mode,
    appRoleName: pool.appRoleName,
    appDatabaseUrl: pool.appUrl,
    migratorDatabaseUrl: pool.migratorUrl,
    tenantCatalog: tenants.map((t) => t.entry),
    // What a tenant stack needs to build its own database like the pool's (no credentials here).
    databaseSettings: tenantDatabaseSettings(config.database),
    flags: config.flags,
    kvRestUrl: store.restUrl,
    // The platform's admin token (runbook, tenant stacks); the app gets the two scoped tokens below.
    kvRestToken: store.restToken,
    kvAppReadToken: store.appReadToken,
    kvAppLimiterToken: store.appLimiterToken,
    kvKeyPrefix: store.keyPrefix,
    limits: config.limits ?? null,
    observabilityMetricBudget: observability ? observability.metricBudget : null,
    observabilityStacks: observability ? observability.stackNames : [],
    edgeRateLimitRules: edge ? edge.rateLimitRuleCount : null,
    tenantHostnames: Object.fromEntries(tenants.filter((t) => t.hostname).map((t) => [t.entry.id, t.hostname!])),
  };
}
