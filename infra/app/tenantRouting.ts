import type { Pool } from "pg";

/**
 * Where a tenant's data lives, for the app: `resolveTenantConnection(tenantId)` reads the tenant's location through
 * `bloom_tenant_location` (the app has no right on the catalog itself), caches it briefly, and returns the URL to use —
 * the pool's, or the dedicated database's from `credentialsFor` (the app's secret store: each tenant stack publishes
 * its own `appDatabaseUrl` as a secret output; docs/app-runtime.md). `invalidate(tenantId)` forgets a location, e.g.
 * when a write fails with the maintenance error of a move, so the next call reads the new one.
 */
export interface TenantLocation {
  isolation: "pooled" | "dedicated";
  location: { kind: "pool" } | { kind: "dedicated"; stack: string; project: string };
  move_state: "settled" | "extracting" | "returning";
}

export interface TenantConnection {
  tenantId: string;
  kind: "pool" | "dedicated";
  url: string;
  moveState: TenantLocation["move_state"];
}

export class TenantNotInCatalogError extends Error {
  constructor(readonly tenantId: string) {
    super(`tenant "${tenantId}" is not in the platform's catalog: is it in bloom:tenants, and has \`pulumi up\` run since?`);
    this.name = "TenantNotInCatalogError";
  }
}

export interface TenantRouterOptions {
  /** A pg Pool on the pooled app URL (the routing lookup runs there). */
  pool: Pool;
  /** The pooled app URL itself, returned for pooled tenants. */
  poolUrl: string;
  /** The dedicated database's app URL, from the app's secret store. */
  credentialsFor(tenantId: string, location: Extract<TenantLocation["location"], { kind: "dedicated" }>): string | Promise<string>;
  cacheTtlMs?: number;
  now?: () => number;
}

export function createTenantRouter(opts: TenantRouterOptions) {
  const ttl = opts.cacheTtlMs ?? 5_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { value: TenantConnection; until: number }>();
  return {
    async resolveTenantConnection(tenantId: string): Promise<TenantConnection> {
      const hit = cache.get(tenantId);
      if (hit && hit.until > now()) return hit.value;
      const { rows } = await opts.pool.query<TenantLocation>("SELECT * FROM public.bloom_tenant_location($1)", [tenantId]);
      const found = rows[0];
      if (!found) throw new TenantNotInCatalogError(tenantId);
      const url = found.location.kind === "dedicated" ? await opts.credentialsFor(tenantId, found.location) : opts.poolUrl;
      const value: TenantConnection = { tenantId, kind: found.location.kind, url, moveState: found.move_state };
      cache.set(tenantId, { value, until: now() + ttl });
      return value;
    },
    invalidate(tenantId?: string): void {
      if (tenantId) cache.delete(tenantId);
      else cache.clear();
    },
  };
}
