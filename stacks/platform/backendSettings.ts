import * as pulumi from "@pulumi/pulumi";
import type { BackendSettings } from "../../infra";
import type { DatabaseConfig, PlatformConfig } from "../../infra/config/schema";
import type { KvSettings } from "../../infra/kv/kvDatabase";
import { DEFAULT_POOLER_PORT } from "../../infra/database/local/pgbouncer";

/** The backend a stack's resources talk to, built from validated config and the stack's secrets. */
export function backendSettings(db: DatabaseConfig, neonApiKey: () => pulumi.Output<string>): pulumi.Output<BackendSettings> {
  if (db.backend === "neon") {
    const neon = db.neon!;
    return pulumi.secret(
      neonApiKey().apply((apiKey): BackendSettings => ({ kind: "neon", apiKey, apiBaseUrl: neon.apiBaseUrl, orgId: neon.orgId })),
    );
  }
  const local: BackendSettings = { kind: "local", poolerPort: db.local?.poolerPort ?? DEFAULT_POOLER_PORT };
  if (db.local?.serverUrl) local.serverUrl = db.local.serverUrl;
  return pulumi.secret(local);
}

/** The key-value store a stack writes flags and budgets to. */
export function kvSettings(kv: PlatformConfig["kv"], upstashApiKey: () => pulumi.Output<string>): pulumi.Output<KvSettings> {
  if (kv.backend === "upstash") {
    const u = kv.upstash!;
    return pulumi.secret(upstashApiKey().apply((apiKey): KvSettings => ({ kind: "upstash", email: u.email, apiKey, primaryRegion: u.primaryRegion, readRegions: u.readRegions, apiBaseUrl: u.apiBaseUrl })));
  }
  return pulumi.secret({ kind: "local" as const, redisUrl: kv.local?.redisUrl ?? null, port: kv.local?.port ?? 8079 });
}

/**
 * What a tenant stack needs to build its database like the pool's, on the same backend (its serverUrl and pooler,
 * or Neon's API base and org): published by the platform stack, no credentials in it.
 */
export interface TenantDatabaseSettings {
  backend: "neon" | "local";
  pgVersion: number | null;
  historyRetentionSeconds: number | null;
  local: { serverUrl: string | null; poolerPort: number } | null;
  neon: { apiBaseUrl: string | null; orgId: string | null } | null;
}

export function tenantDatabaseSettings(db: DatabaseConfig): TenantDatabaseSettings {
  return {
    backend: db.backend,
    pgVersion: db.neon?.pgVersion ?? null,
    historyRetentionSeconds: db.neon?.historyRetentionSeconds ?? null,
    local: db.backend === "local" ? { serverUrl: db.local?.serverUrl ?? null, poolerPort: db.local?.poolerPort ?? DEFAULT_POOLER_PORT } : null,
    neon: db.backend === "neon" ? { apiBaseUrl: db.neon?.apiBaseUrl ?? null, orgId: db.neon?.orgId ?? null } : null,
  };
}

/** The backend a tenant stack talks to, from the platform's published settings and the tenant stack's own key. */
export function tenantBackendSettings(s: TenantDatabaseSettings, neonApiKey: () => pulumi.Output<string>): pulumi.Output<BackendSettings> {
  if (s.backend === "neon") {
    return pulumi.secret(neonApiKey().apply((apiKey): BackendSettings => ({
      kind: "neon", apiKey, ...(s.neon?.apiBaseUrl ? { apiBaseUrl: s.neon.apiBaseUrl } : {}), ...(s.neon?.orgId ? { orgId: s.neon.orgId } : {}),
    })));
  }
  const local: BackendSettings = { kind: "local", poolerPort: s.local?.poolerPort ?? DEFAULT_POOLER_PORT };
  if (s.local?.serverUrl) local.serverUrl = s.local.serverUrl;
  return pulumi.secret(local);
}
