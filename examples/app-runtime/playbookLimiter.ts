// examples/app-runtime/playbookLimiter.ts — the playbook's snippet (phase 3 step 2), verbatim.
import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis';

const redis = Redis.fromEnv();
export const perTenantLimiter = new Ratelimit({
  redis,
  limiter: Ratelimit.slidingWindow(100, '1 m'),
  analytics: true,
});

export async function assertTenantBudget(tenantId: string, identifier: string) {
  const { success, reset } = await perTenantLimiter.limit(`${tenantId}:${identifier}`);
  if (!success) {
    throw new Error(`Rate limit exceeded, retry after ${reset}`);
  }
}
