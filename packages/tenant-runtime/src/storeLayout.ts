/**
 * The key-value store's layout as the platform writes it (`pulumi up`) and the app reads it: one definition for both
 * sides (the platform's infra/kv imports it from here). Every key starts with the stack's prefix (`kvKeyPrefix`).
 */
export interface Budget {
  /** Requests of one identifier (a user, an API key) in the window. */
  requests: number;
  /** @upstash/ratelimit duration, e.g. "1 m". */
  window: string;
  /**
   * Requests of the whole tenant in the same window, every identifier together: what keeps one clinic flooding from
   * many identifiers off its neighbours. Absent (a store written before it existed): no tenant-wide cap.
   */
  tenantRequests?: number;
  /**
   * How many of `tenantRequests` may come at once: the tenant-wide cap is a token bucket holding this many, refilled
   * at `tenantRequests` per window in even steps, so a clinic's total arrives paced instead of as a window's worth in
   * its first second. Absent: what one identifier may take at once (`requests`) or a 25th of `tenantRequests`,
   * whichever is more — one user's own burst is never cut by the tenant's pace. No window admits more than
   * `tenantRequests + tenantBurst`.
   */
  tenantBurst?: number;
}

/** A budget's window ("30 s", "1 m", "500 ms", as @upstash/ratelimit reads it) in milliseconds; undefined if not one. */
export function budgetWindowMs(window: string): number | undefined {
  const m = /^(\d+)\s?(ms|s|m|h|d)$/.exec(window);
  return m ? Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms" | "s" | "m" | "h" | "d"] : undefined;
}

/** The tenant-wide bucket's size when the budget names none: one identifier's budget, or `tenantRequests / 25`. */
export const TENANT_BURST_DIVISOR = 25;
export const defaultTenantBurst = (b: { requests: number; tenantRequests: number }) => Math.max(b.requests, Math.ceil(b.tenantRequests / TENANT_BURST_DIVISOR));

/** Hash: tenant id → JSON budget (the tenant's override, else its tier's); `tier:<tier>` → the tier's. */
export const budgetsKey = (prefix: string) => `${prefix}budgets`;

export const flagKeys = (prefix: string, name: string) => ({
  /** Hash: `default`, `tenant:<id>` → "true" | "false", `description`. */
  flag: `${prefix}flag:${name}`,
  /** String "1" while the kill switch is on. */
  kill: `${prefix}flag:${name}:kill`,
  /** Set of declared flag names. */
  names: `${prefix}flags`,
  /** List, newest first, of audit entries. */
  audit: `${prefix}flags:audit`,
});

/** How a flag resolves for a tenant: kill switch, then the tenant's override, then the default (false if unset). */
export function resolveFlag(state: { default?: boolean; tenants: Record<string, boolean>; killed: boolean }, tenantId?: string): boolean {
  if (state.killed) return false;
  if (tenantId !== undefined && state.tenants[tenantId] !== undefined) return state.tenants[tenantId]!;
  return state.default ?? false;
}

/** The rate limiter's key space: the limiter token reaches `<prefix>rl:*` only. */
export const limiterKeySpace = (prefix: string) => `${prefix}rl:`;
/** One limiter prefix per tenant: tenants never share counters. */
export const tenantLimiterPrefix = (prefix: string, tenantId: string) => `${limiterKeySpace(prefix)}${tenantId}`;
/**
 * The tenant-wide counter's prefix, inside the tenant's: `#` cannot start a tenant id, and every per-identifier key
 * is `<tenant prefix>:<tenant id>:…`, so the two never meet.
 */
export const tenantTotalPrefix = (prefix: string, tenantId: string) => `${tenantLimiterPrefix(prefix, tenantId)}:#total`;

/**
 * @upstash/ratelimit's analytics (`analytics: true`): a sorted set per hour, `<limiter prefix>:events:<hour start ms>`,
 * members the JSON of `{ identifier, success }`, scores the counts. The runtime gives each such key a TTL.
 */
export const ANALYTICS_BUCKET_MS = 60 * 60 * 1000;
export const analyticsKey = (prefix: string, tenantId: string, at: number) =>
  `${tenantLimiterPrefix(prefix, tenantId)}:events:${Math.floor(at / ANALYTICS_BUCKET_MS) * ANALYTICS_BUCKET_MS}`;
/** The tenant-wide counter's analytics bucket (its rejections are the tenant's too). */
export const totalAnalyticsKey = (prefix: string, tenantId: string, at: number) =>
  `${tenantTotalPrefix(prefix, tenantId)}:events:${Math.floor(at / ANALYTICS_BUCKET_MS) * ANALYTICS_BUCKET_MS}`;
/** How long a tenant's analytics bucket lives after its last write: the hour it covers and one more (the ROPA says so). */
export const ANALYTICS_TTL_MS = 2 * ANALYTICS_BUCKET_MS;
