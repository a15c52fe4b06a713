import type { Redis } from "@upstash/redis";
import type { PlatformConfig } from "../config/schema";

/**
 * Per-tenant rate-limit budgets in the key-value store: `<p>budgets` is a hash, tenant id → JSON budget (the
 * tenant's override, else its tier's), and `tier:<tier>` → JSON for tenants not yet published.
 */
import { budgetsKey, defaultTenantBurst, type Budget } from "@bloom/tenant-runtime/limiter";

// The layout is the app's contract too: one definition, in the runtime package the app installs.
export { budgetsKey, type Budget };

/** A tenant's total when the config names none: ten identifiers' worth. */
export const DEFAULT_TENANT_REQUESTS_FACTOR = 10;

export const tenantTotalOf = (b: Pick<Budget, "requests" | "tenantRequests">) => b.tenantRequests ?? b.requests * DEFAULT_TENANT_REQUESTS_FACTOR;

/** The budget as the store holds it: the tenant's total and its burst spelt out. */
const withTenantTotal = (b: Budget): Budget => {
  const tenantRequests = tenantTotalOf(b);
  return { ...b, tenantRequests, tenantBurst: b.tenantBurst ?? defaultTenantBurst({ requests: b.requests, tenantRequests }) };
};

export function effectiveBudgets(config: Pick<PlatformConfig, "tenants" | "limits">): { tenants: Record<string, Budget>; tiers: Record<string, Budget> } {
  const limits = config.limits;
  if (!limits) return { tenants: {}, tiers: {} };
  const tenants = Object.fromEntries(config.tenants.map((t) => [t.id, withTenantTotal(limits.tenants?.[t.id] ?? limits.tiers[t.tier])]));
  return { tenants, tiers: Object.fromEntries(Object.entries(limits.tiers).map(([tier, b]) => [tier, withTenantTotal(b)])) };
}

export async function readBudgets(redis: Redis, prefix: string): Promise<{ tenants: Record<string, Budget>; tiers: Record<string, Budget> }> {
  const hash = (await redis.hgetall<Record<string, Budget | string>>(budgetsKey(prefix))) ?? {};
  const tenants: Record<string, Budget> = {};
  const tiers: Record<string, Budget> = {};
  for (const [field, value] of Object.entries(hash)) {
    const budget = typeof value === "string" ? (JSON.parse(value) as Budget) : value;
    if (field.startsWith("tier:")) tiers[field.slice(5)] = budget;
    else tenants[field] = budget;
  }
  return { tenants, tiers };
}

/**
 * Makes the store hold exactly these budgets (fields no longer declared are removed) in one transaction. A part
 * left out is left as it is: the platform writes the tiers, and each tenant its own budget (writeTenantBudget).
 */
export async function writeBudgets(redis: Redis, prefix: string, wanted: { tenants?: Record<string, Budget>; tiers?: Record<string, Budget> }): Promise<void> {
  const key = budgetsKey(prefix);
  const current = await readBudgets(redis, prefix);
  const fields: Record<string, string> = {};
  const { tenants, tiers } = wanted;
  for (const [id, b] of Object.entries(tenants ?? {})) fields[id] = JSON.stringify(b);
  for (const [tier, b] of Object.entries(tiers ?? {})) fields[`tier:${tier}`] = JSON.stringify(b);
  const stale = [
    ...(tenants ? Object.keys(current.tenants).filter((id) => !(id in tenants)) : []),
    ...(tiers ? Object.keys(current.tiers).filter((t) => !(t in tiers)).map((t) => `tier:${t}`) : []),
  ];
  const tx = redis.multi();
  if (Object.keys(fields).length) tx.hset(key, fields);
  if (stale.length) tx.hdel(key, ...stale);
  if (!Object.keys(fields).length && !stale.length) return;
  await tx.exec();
}

/** One tenant's budget field: set, or (undefined) removed. Tenant ids cannot start with `tier:` (config schema). */
export async function writeTenantBudget(redis: Redis, prefix: string, tenantId: string, budget: Budget | undefined): Promise<void> {
  if (budget) await redis.hset(budgetsKey(prefix), { [tenantId]: JSON.stringify(budget) });
  else await redis.hdel(budgetsKey(prefix), tenantId);
}

export async function readTenantBudget(redis: Redis, prefix: string, tenantId: string): Promise<Budget | undefined> {
  const value = await redis.hget<Budget | string>(budgetsKey(prefix), tenantId);
  if (value === null || value === undefined) return undefined;
  return typeof value === "string" ? (JSON.parse(value) as Budget) : value;
}
