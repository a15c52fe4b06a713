import { Ratelimit, type Duration } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { budgetsKey, type Budget } from "../kv/budgetStore";
import { flagKeys, resolveFlag } from "../kv/flagStore";

/**
 * What the Bloom app imports (docs/app-runtime.md): per-tenant rate limits and feature flags, read from the store
 * the platform provisions. Works unchanged against Upstash and the local REST endpoint.
 *
 *   const guards = createTenantGuards({ url: process.env.BLOOM_KV_URL!, readToken: process.env.BLOOM_KV_READ_TOKEN!,
 *     limiterToken: process.env.BLOOM_KV_LIMITER_TOKEN!, prefix: process.env.BLOOM_KV_PREFIX! });
 *   await guards.assertTenantBudget(clinicId, userId);   // throws TenantBudgetExceededError with retryAfterMs
 *   if (await guards.isEnabled("tenancy_enabled", clinicId)) { ... }
 */
export interface TenantGuardOptions {
  url: string;
  /** The app's read-only token for flags and budgets (stack output kvAppReadToken). */
  readToken?: string;
  /** The app's token for the rate-limit keys only (stack output kvAppLimiterToken). */
  limiterToken?: string;
  /** One token for both: the platform's admin token (runbook, tests). The app uses the two scoped ones. */
  token?: string;
  /** The stack's key prefix (stack output `kvKeyPrefix`). */
  prefix: string;
  /** How long a flag value or a budget is reused before it is read again. */
  cacheTtlMs?: number;
  now?: () => number;
}

export class TenantBudgetExceededError extends Error {
  constructor(readonly tenantId: string, readonly identifier: string, readonly retryAfterMs: number, readonly budget: Budget) {
    super(`rate limit exceeded for tenant ${tenantId} (${budget.requests} per ${budget.window}): retry after ${Math.ceil(retryAfterMs / 1000)} s`);
    this.name = "TenantBudgetExceededError";
  }
}

export class UnknownTenantError extends Error {
  constructor(readonly tenantId: string) {
    super(`tenant "${tenantId}" has no budget in the store: is it in bloom:tenants, and has \`pulumi up\` run since?`);
    this.name = "UnknownTenantError";
  }
}

interface Cached<T> {
  value: T;
  until: number;
}

export function createTenantGuards(opts: TenantGuardOptions) {
  const readToken = opts.readToken ?? opts.token;
  const limiterToken = opts.limiterToken ?? opts.token;
  if (!readToken || !limiterToken) throw new Error("createTenantGuards: set readToken and limiterToken (stack outputs kvAppReadToken, kvAppLimiterToken)");
  const redis = new Redis({ url: opts.url, token: readToken, enableTelemetry: false });
  const limiterRedis = new Redis({ url: opts.url, token: limiterToken, enableTelemetry: false });
  const ttl = opts.cacheTtlMs ?? 5_000;
  const now = opts.now ?? Date.now;
  const budgets = new Map<string, Cached<Budget>>();
  const flags = new Map<string, Cached<boolean>>();
  // One limiter per tenant and budget: each has its own prefix and window, so tenants never share counters and a
  // tenant's budget is its own (`dynamicLimits` in @upstash/ratelimit is one global limit, not per tenant).
  const limiters = new Map<string, Ratelimit>();

  async function budgetOf(tenantId: string): Promise<Budget> {
    const hit = budgets.get(tenantId);
    if (hit && hit.until > now()) return hit.value;
    const raw = await redis.hget<Budget | string>(budgetsKey(opts.prefix), tenantId);
    if (raw === null || raw === undefined) throw new UnknownTenantError(tenantId);
    const value = typeof raw === "string" ? (JSON.parse(raw) as Budget) : raw;
    budgets.set(tenantId, { value, until: now() + ttl });
    return value;
  }

  function limiterFor(tenantId: string, budget: Budget): Ratelimit {
    const key = `${tenantId}\0${budget.requests}\0${budget.window}`;
    let limiter = limiters.get(key);
    if (!limiter) {
      limiter = new Ratelimit({
        redis: limiterRedis,
        limiter: Ratelimit.slidingWindow(budget.requests, budget.window as Duration),
        prefix: `${opts.prefix}rl:${tenantId}:${budget.requests}:${budget.window.replace(/\s/g, "")}`,
        analytics: false,
      });
      limiters.set(key, limiter);
    }
    return limiter;
  }

  return {
    /** Counts one request of `identifier` (a user, an API key) against the tenant's budget; throws when over. */
    async assertTenantBudget(tenantId: string, identifier: string): Promise<{ remaining: number; reset: number }> {
      const budget = await budgetOf(tenantId);
      const { success, remaining, reset } = await limiterFor(tenantId, budget).limit(`${tenantId}:${identifier}`);
      if (!success) {
        // The limiter keeps no analytics: count rejections per tenant and minute for `bloom status` (on-call's view).
        const key = rejectionKey(opts.prefix, tenantId, now());
        await limiterRedis.pipeline().incrby(key, 1).pexpire(key, 2 * REJECTION_BUCKET_MS).exec(); // one round trip
        throw new TenantBudgetExceededError(tenantId, identifier, Math.max(0, reset - now()), budget);
      }
      return { remaining, reset };
    },

    /** The flag for this tenant: kill switch, then the tenant's override, then the default; cached briefly. */
    async isEnabled(flag: string, tenantId?: string): Promise<boolean> {
      const cacheKey = `${flag}\0${tenantId ?? ""}`;
      const hit = flags.get(cacheKey);
      if (hit && hit.until > now()) return hit.value;
      const k = flagKeys(opts.prefix, flag);
      const p = redis.pipeline();
      p.hmget(k.flag, "default", ...(tenantId ? [`tenant:${tenantId}`] : []));
      p.exists(k.kill);
      const [fields, killed] = (await p.exec()) as [Record<string, unknown> | null, number];
      const toBool = (v: unknown) => (v === true || v === "true" ? true : v === false || v === "false" ? false : undefined);
      const override = tenantId ? toBool(fields?.[`tenant:${tenantId}`]) : undefined;
      const value = resolveFlag({ default: toBool(fields?.default), tenants: override === undefined ? {} : { [tenantId!]: override }, killed: killed > 0 }, tenantId);
      flags.set(cacheKey, { value, until: now() + ttl });
      return value;
    },

    /** Forget cached flags and budgets (tests, or after an admin change). */
    clearCache(): void {
      budgets.clear();
      flags.clear();
    },
  };
}

export type TenantGuards = ReturnType<typeof createTenantGuards>;

/** Rejections are counted per tenant in one-minute buckets, under the limiter's own key space. */
export const REJECTION_BUCKET_MS = 60_000;
export const rejectionKey = (prefix: string, tenantId: string, at: number) => `${prefix}rl:rejected:${tenantId}:${Math.floor(at / REJECTION_BUCKET_MS)}`;
