import type { Budget } from "../kv/budgetStore";

/**
 * The edge's rules as data (components/edge renders them): the playbook's five security headers, and one
 * http_ratelimit rule per distinct budget, its expression listing the hostnames of the tenants that share it
 * (Cloudflare counts rules per zone and plan, so tenants are grouped rather than given a rule each).
 */
export const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https:; script-src 'self' 'unsafe-inline'; connect-src 'self' https://api.stripe.com",
  "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
};

/** Periods Cloudflare's rate limiting accepts, in seconds. */
export const CLOUDFLARE_PERIODS = [10, 60, 120, 300, 600, 3600];

export const tenantHostname = (tenantId: string, zone: string) => `${tenantId}.${zone}`;

export interface RateLimitRule {
  ref: string;
  description: string;
  expression: string;
  requestsPerPeriod: number;
  period: number;
  tenants: string[];
}

function windowSeconds(window: string): number {
  const m = /^(\d+)\s*(s|m|h)$/.exec(window.trim());
  if (!m) throw new Error(`budget window "${window}" is not "<n> s|m|h"`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
}

/** Groups tenants by effective budget; the rule order and each expression are stable (sorted), so no perpetual diff. */
export function rateLimitRules(budgets: Record<string, Budget>, zone: string): RateLimitRule[] {
  const groups = new Map<string, { budget: Budget; tenants: string[] }>();
  for (const [tenant, budget] of Object.entries(budgets).sort(([a], [b]) => a.localeCompare(b))) {
    const key = `${budget.requests}/${budget.window}`;
    (groups.get(key) ?? groups.set(key, { budget, tenants: [] }).get(key)!).tenants.push(tenant);
  }
  return [...groups.values()]
    .map(({ budget, tenants }) => {
      const period = windowSeconds(budget.window);
      if (!CLOUDFLARE_PERIODS.includes(period)) throw new Error(`budget window "${budget.window}" is not a Cloudflare rate-limit period (${CLOUDFLARE_PERIODS.join(", ")} s): change bloom:limits`);
      return {
        ref: `bloom_rl_${budget.requests}_per_${period}s`,
        description: `${budget.requests} requests per ${budget.window} per client and tenant (${tenants.length} tenant${tenants.length === 1 ? "" : "s"})`,
        expression: `(http.host in {${tenants.map((t) => `"${tenantHostname(t, zone)}"`).join(" ")}})`,
        requestsPerPeriod: budget.requests,
        period,
        tenants,
      };
    })
    .sort((a, b) => a.ref.localeCompare(b.ref));
}
