import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import { tenantHostname } from "../../infra/edge/edgeRules";
import type { BackendSettings, Budget } from "../../infra";
import { TenantSettingsResource } from "../kv/kvResources";
import { TenantRecordResource } from "./tenantRecord";
import type { TenantConfig } from "../../infra/config/schema";
import { tenantProjectName, tenantStackName } from "../../infra/naming";

export interface TenantRegistrationArgs {
  environment: string;
  tenant: TenantConfig;
  /** Region its rows live in (the pool's, or its own project's); `local` on loopback. */
  dataRegion: string;
  /** The environment's zone: the tenant gets <id>.<zone>, a proxied CNAME to the origin. */
  edge?: { zoneId: string; zone: string; origin: string; provider: cloudflare.Provider };
  /** The pool database the catalog and clinic rows are written to (after its migrations). */
  pool: { backend: pulumi.Input<BackendSettings>; migratorUrl: pulumi.Input<string>; dependsOn: pulumi.Resource[] };
  /** The environment's key-value store: the tenant's budget and flag overrides are written there, after the flags. */
  store: { access: pulumi.Input<{ restUrl: string; restToken: string; prefix: string }>; dependsOn: pulumi.Resource[] };
  /** Its effective budget (its own, else its tier's); none when the stack declares no bloom:limits. */
  budget?: Budget;
  /** Its flag overrides: flag → value. */
  flagOverrides: Record<string, boolean>;
}

/** One row of the tenant catalog as published by the platform stack. */
export interface TenantCatalogEntry {
  id: string;
  name: string;
  tier: string;
  isolation: "pooled" | "dedicated";
  region?: string;
  residency?: string;
  /** Dedicated tenants: the tenant stack (`<env>-<tenant>`) and its Neon project. */
  stack?: string;
  projectName?: string;
}

export function catalogEntry(environment: string, t: TenantConfig): TenantCatalogEntry {
  const base = { id: t.id, name: t.name, tier: t.tier, isolation: t.isolation, region: t.region, ...(t.residency ? { residency: t.residency } : {}) };
  return t.isolation === "dedicated"
    ? { ...base, stack: tenantStackName(environment, t.id), projectName: tenantProjectName(environment, t.id) }
    : base;
}

/**
 * A tenant as the platform knows it: where its data lives (the pool, or its own project in a tenant stack), its
 * catalog and clinic rows (TenantRecord), its budget and flag overrides in the store (TenantSettings), its DNS record. Per-tenant pieces hang under it: each tenant one subtree.
 */
export class TenantRegistration extends pulumi.ComponentResource {
  readonly entry: TenantCatalogEntry;
  readonly hostname?: string;

  constructor(name: string, args: TenantRegistrationArgs, opts?: pulumi.ComponentResourceOptions) {
    const entry = catalogEntry(args.environment, args.tenant);
    // Its inputs are what the policy pack checks (residency against the region its data lives in).
    super("bloom:tenancy:Tenant", name, { ...entry, dataRegion: args.dataRegion }, opts);
    this.entry = entry;
    const location = entry.isolation === "dedicated" ? { kind: "dedicated" as const, stack: entry.stack!, project: entry.projectName! } : { kind: "pool" as const };
    new TenantRecordResource(`${name}-record`, {
      backend: pulumi.secret(args.pool.backend),
      migratorUrl: pulumi.secret(args.pool.migratorUrl),
      tenant: { id: entry.id, name: entry.name, tier: entry.tier, isolation: entry.isolation, location },
      scope: "catalog",
      guardData: args.environment !== "local",
    }, { parent: this, dependsOn: args.pool.dependsOn });
    new TenantSettingsResource(`${name}-settings`, { store: pulumi.secret(args.store.access), tenantId: entry.id, budget: args.budget ?? null, flags: args.flagOverrides },
      { parent: this, dependsOn: args.store.dependsOn });
    if (args.edge) {
      this.hostname = tenantHostname(args.tenant.id, args.edge.zone);
      new cloudflare.DnsRecord(`${name}-dns`, { zoneId: args.edge.zoneId, name: this.hostname, type: "CNAME", content: args.edge.origin, proxied: true, ttl: 1, comment: `Bloom tenant ${args.tenant.id}` }, { parent: this, provider: args.edge.provider });
    }
    this.registerOutputs({ entry: this.entry, dataRegion: args.dataRegion, hostname: this.hostname, budget: args.budget });
  }
}
