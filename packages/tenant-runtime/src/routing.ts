import type { SqlClient } from "./transaction.js";

/**
 * Where a tenant's data lives, for the app. The platform's catalog (`bloom_platform.tenants`, written on `up`; the
 * app has no right on it) says; the app asks through `bloom_tenant_location(tenant)`, which returns one tenant's
 * isolation, location and move state, or no row for a clinic the platform does not know — so an unknown clinic is
 * an error (404), never an empty result.
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

export class UnknownTenantError extends Error {
  constructor(readonly tenantId: string, what = "the platform's catalog") {
    super(`tenant "${tenantId}" is not in ${what}: is it in bloom:tenants, and has \`pulumi up\` run since? (answer 404)`);
    this.name = "UnknownTenantError";
  }
}
/** The catalog's name for the same error (kept for code written against the platform's first helpers). */
export { UnknownTenantError as TenantNotInCatalogError };

export const isUnknownTenantError = (err: unknown): err is UnknownTenantError => err instanceof Error && err.name === "UnknownTenantError";

export interface TenantRouterOptions {
  /** A pg Pool (or anything with `query`) on the pooled app URL: the routing lookup runs there. */
  pool: SqlClient;
  /** The pooled app URL itself, returned for pooled tenants. */
  poolUrl: string;
  /** The dedicated database's app URL, from the app's secret store (never from the catalog or the flag store). */
  credentialsFor(tenantId: string, location: Extract<TenantLocation["location"], { kind: "dedicated" }>): string | Promise<string>;
  /** How long a resolved location is reused (default 5 s); `invalidate` forgets it at once. */
  cacheTtlMs?: number;
  now?: () => number;
}

export interface TenantRouter {
  /** The tenant's connection (cached briefly); UnknownTenantError for a clinic the platform does not know. */
  resolveTenantConnection(tenantId: string): Promise<TenantConnection>;
  /** Forgets one tenant's location (after a maintenance error: the move may have cut over), or all. */
  invalidate(tenantId?: string): void;
}

export function createTenantRouter(opts: TenantRouterOptions): TenantRouter {
  const ttl = opts.cacheTtlMs ?? 5_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { value: TenantConnection; until: number }>();
  return {
    async resolveTenantConnection(tenantId) {
      const hit = cache.get(tenantId);
      if (hit && hit.until > now()) return hit.value;
      const { rows } = (await opts.pool.query("SELECT * FROM public.bloom_tenant_location($1)", [tenantId])) as { rows: TenantLocation[] };
      const found = rows[0];
      if (!found) throw new UnknownTenantError(tenantId);
      const url = found.location.kind === "dedicated" ? await opts.credentialsFor(tenantId, found.location) : opts.poolUrl;
      const value: TenantConnection = { tenantId, kind: found.location.kind, url, moveState: found.move_state };
      cache.set(tenantId, { value, until: now() + ttl });
      return value;
    },
    invalidate(tenantId) {
      if (tenantId) cache.delete(tenantId);
      else cache.clear();
    },
  };
}

export type TenancyMode = "shadow" | "enforce";

/**
 * The database's tenancy mode, read through `bloom_tenancy_mode()` (SECURITY DEFINER, pinned search_path; the app
 * cannot read `bloom_platform` itself): `shadow` lets tenant-less access through and counts it, `enforce` denies it.
 */
export async function readTenancyMode(db: SqlClient): Promise<TenancyMode> {
  const { rows } = (await db.query("SELECT public.bloom_tenancy_mode() AS mode")) as { rows: { mode: TenancyMode }[] };
  return rows[0]!.mode;
}
