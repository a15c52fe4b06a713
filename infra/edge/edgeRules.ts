import { budgetWindowMs } from "@bloom/tenant-runtime/limiter";
import type { Budget } from "../kv/budgetStore";
import { CLOUDFLARE_SOURCES, MANDATORY_CHARACTERISTIC, MAX_EXPRESSION_CHARS, RATE_LIMIT_PERIODS, rateLimitingOf, type EdgePlan } from "../vendorRules/cloudflare";

/**
 * The edge's rules as data (components/edge renders them): the playbook's five security headers, and one
 * http_ratelimit rule per distinct budget (Cloudflare counts rules per zone and plan, so tenants are grouped rather
 * than given a rule each), within what the zone's plan offers.
 */
/** Defined once in the app runtime (the app sends the same from next.config.mjs). */
export { SECURITY_HEADERS } from "@bloom/tenant-runtime";

export const tenantHostname = (tenantId: string, zone: string) => `${tenantId}.${zone}`;

export interface RateLimitRule {
  ref: string;
  description: string;
  expression: string;
  requestsPerPeriod: number;
  period: number;
  characteristics: string[];
  tenants: string[];
}

/** A budget set the zone's plan cannot express; `path` is the config field to change (under bloom:). */
export class EdgePlanError extends Error {
  constructor(readonly path: string[], message: string) {
    super(`bloom:${path.join(".")}: ${message}`);
    this.name = "EdgePlanError";
  }
}

/** The window in seconds, or undefined when Cloudflare's periods (whole seconds) cannot say it ("500 ms"). */
function windowSeconds(window: string): number | undefined {
  const ms = budgetWindowMs(window);
  return ms !== undefined && ms % 1000 === 0 ? ms / 1000 : undefined;
}

const hostList = (tenants: string[], zone: string) => `{${tenants.map((t) => `"${tenantHostname(t, zone)}"`).join(" ")}}`;

/**
 * One http_ratelimit rule per distinct budget, rendered for the zone's plan (infra/vendorRules/cloudflare.ts):
 *  - the budget group with the most tenants matches every host *not* listed by the other rules, so the expressions
 *    stay short at 1,000 tenants (each within Cloudflare's 4,096 characters); the zone's other hostnames (apex,
 *    www) count at that budget too;
 *  - counting: per client IP in each data center (cf.colo.id + ip.src) below Enterprise with Advanced Rate Limiting
 *    — so one IP's requests to two tenants of the same budget share one counter; with ARL also per host (tenant).
 * Stable order and text (sorted), so no perpetual diff. A budget set the plan cannot express is an EdgePlanError.
 */
export function rateLimitRules(budgets: Record<string, Budget>, zone: string, plan: EdgePlan): RateLimitRule[] {
  const features = rateLimitingOf(plan);
  if (!features.hostInExpression) {
    throw new EdgePlanError(["edge", "plan", "name"], `Cloudflare's ${plan.name} plan matches rate limits on the URI path only (no Host) and counts over 10 s, so it cannot keep per-tenant budgets: use "pro" or above (${CLOUDFLARE_SOURCES.rateLimiting})`);
  }
  const groups = new Map<string, { budget: Budget; period: number; tenants: string[] }>();
  for (const [tenant, budget] of Object.entries(budgets).sort(([a], [b]) => a.localeCompare(b))) {
    const period = windowSeconds(budget.window);
    if (period === undefined || !RATE_LIMIT_PERIODS.includes(period) || period > features.maxPeriod) {
      throw new EdgePlanError(["limits"], `budget "${budget.requests} per ${budget.window}" (tenant ${tenant}): Cloudflare's ${plan.name} plan counts over ${RATE_LIMIT_PERIODS.filter((p) => p <= features.maxPeriod).join(", ")} s only; change the window or bloom:edge.plan (${CLOUDFLARE_SOURCES.rateLimiting})`);
    }
    // "1 m" and "60 s" are one budget at the edge (one rule, one ref).
    const key = `${budget.requests}/${period}`;
    (groups.get(key) ?? groups.set(key, { budget, period, tenants: [] }).get(key)!).tenants.push(tenant);
  }
  if (groups.size > features.rules) {
    throw new EdgePlanError(["edge", "plan", "name"], `allows ${features.rules} rate limiting rules on ${plan.name}, but the tenants have ${groups.size} distinct budgets (one rule each): share budgets (bloom:limits) or move the zone to a larger plan (${CLOUDFLARE_SOURCES.rateLimiting})`);
  }
  const ordered = [...groups.values()].sort((a, b) => b.tenants.length - a.tenants.length || a.tenants[0]!.localeCompare(b.tenants[0]!));
  const characteristics = [MANDATORY_CHARACTERISTIC, ...(plan.advancedRateLimiting && features.characteristics.includes("http.host") ? ["http.host"] : []), "ip.src"];
  return ordered
    .map(({ budget, period, tenants }, i) => {
      const others = ordered.filter((_, j) => j !== i).flatMap((g) => g.tenants).sort();
      const expression = i === 0 ? (others.length ? `not (http.host in ${hostList(others, zone)})` : "true") : `(http.host in ${hostList(tenants, zone)})`;
      if (expression.length > MAX_EXPRESSION_CHARS) {
        throw new EdgePlanError(["limits"], `the rate limiting rule for "${budget.requests} per ${budget.window}" would be ${expression.length} characters (${tenants.length} tenants listed), over Cloudflare's ${MAX_EXPRESSION_CHARS}: give fewer tenants budgets other than the most common one (${CLOUDFLARE_SOURCES.expression})`);
      }
      const counting = characteristics.includes("http.host") ? "per client IP and tenant" : "per client IP (all tenants of this budget together)";
      return {
        ref: `bloom_rl_${budget.requests}_per_${period}s`,
        description: `${budget.requests} requests per ${budget.window} ${counting}, in each Cloudflare data center (${tenants.length} tenant${tenants.length === 1 ? "" : "s"})`,
        expression,
        requestsPerPeriod: budget.requests,
        period,
        characteristics,
        tenants,
      };
    })
    .sort((a, b) => a.ref.localeCompare(b.ref));
}
