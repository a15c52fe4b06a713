// examples/app-runtime/limiter.ts — the playbook's limiter, pre-configured by the runtime.
import { createTenantGuards, createTenantRatelimit, storeOptionsFromEnv, TenantBudgetExceededError } from "@bloom/tenant-runtime/limiter";

// BLOOM_KV_URL, BLOOM_KV_READ_TOKEN, BLOOM_KV_LIMITER_TOKEN, BLOOM_KV_PREFIX: the stack outputs kvRestUrl,
// kvAppReadToken, kvAppLimiterToken and kvKeyPrefix, through the app's secret store (never kvRestToken).
export const perTenantLimiter = () => createTenantRatelimit(storeOptionsFromEnv()); // was: new Ratelimit({ redis: Redis.fromEnv(), … })

export async function assertTenantBudget(limiter: ReturnType<typeof perTenantLimiter>, tenantId: string, identifier: string) {
  const { success, reset } = await limiter.limit(`${tenantId}:${identifier}`);
  if (!success) {
    throw new Error(`Rate limit exceeded, retry after ${reset}`);
  }
}

// Or the guards, which also read flags: 429 with Retry-After from the error. One per process (it caches budgets).
export const tenantGuards = () => createTenantGuards(storeOptionsFromEnv());

export async function guardRequest(guards: ReturnType<typeof tenantGuards>, tenantId: string, userId: string): Promise<{ status: 200 } | { status: 429; retryAfterSeconds: number }> {
  try {
    await guards.assertTenantBudget(tenantId, userId);
    return { status: 200 };
  } catch (err) {
    if (err instanceof TenantBudgetExceededError) return { status: 429, retryAfterSeconds: Math.ceil(err.retryAfterMs / 1000) };
    throw err;
  }
}
