/**
 * Cloudflare's written rules for what the edge sends it (a mock accepts anything). Each names its source:
 *  - RATE_LIMITING: cloudflare/cloudflare-docs src/content/partials/waf/rate-limiting-availability-by-plan.mdx
 *    ("Rate limiting rules: availability", developers.cloudflare.com/waf/rate-limiting-rules/);
 *  - EXPRESSION: developers.cloudflare.com/ruleset-engine/rules-language/expressions/ ("The maximum length of a
 *    rule expression is 4,096 characters");
 *  - ENTRY_POINT: developers.cloudflare.com/ruleset-engine/about/rulesets/ ("Each phase has at most one entry point
 *    ruleset at the account level and at the zone level");
 *  - DNS: developers.cloudflare.com/dns/manage-dns-records/ and RFC 1035 §2.3.4 (labels <= 63, names <= 255 octets).
 */
export const CLOUDFLARE_SOURCES = {
  rateLimiting: "Cloudflare WAF docs, rate limiting rules availability by plan (cloudflare-docs partials/waf/rate-limiting-availability-by-plan.mdx)",
  expression: "Cloudflare Ruleset Engine docs, Expressions: maximum rule expression length 4,096 characters",
  entryPoint: "Cloudflare Ruleset Engine docs, Rulesets: each phase has at most one entry point ruleset at the zone level",
  dns: "Cloudflare DNS docs and RFC 1035 2.3.4: a label is at most 63 characters, a name at most 255",
} as const;

export const CLOUDFLARE_PLANS = ["free", "pro", "business", "enterprise"] as const;
export type CloudflarePlanName = (typeof CLOUDFLARE_PLANS)[number];

export interface EdgePlan {
  name: CloudflarePlanName;
  /** Enterprise with Advanced Rate Limiting: more counting characteristics (Host among them). */
  advancedRateLimiting: boolean;
  /** Enterprise only: the contract's number of rate limiting rules (default 100). */
  rateLimitRules?: number;
}

export interface RateLimitingFeatures {
  rules: number;
  /** `http.host` may appear in a rule expression. */
  hostInExpression: boolean;
  /** Counting characteristics the plan offers, besides the mandatory cf.colo.id. */
  characteristics: string[];
  /** Longest counting period, seconds. */
  maxPeriod: number;
  /** Longest mitigation timeout, seconds. */
  maxMitigationTimeout: number;
}

/** The supported period values, in seconds ("not all values are available on all plans"). */
export const RATE_LIMIT_PERIODS = [10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 240, 300, 480, 600, 900, 1200, 1800, 2400, 3600, 65535, 86400];

export function rateLimitingOf(plan: EdgePlan): RateLimitingFeatures {
  switch (plan.name) {
    case "free":
      return { rules: 1, hostInExpression: false, characteristics: ["ip.src"], maxPeriod: 10, maxMitigationTimeout: 10 };
    case "pro":
      return { rules: 2, hostInExpression: true, characteristics: ["ip.src"], maxPeriod: 60, maxMitigationTimeout: 3600 };
    case "business":
      return { rules: 5, hostInExpression: true, characteristics: ["ip.src", "cf.unique_visitor_id"], maxPeriod: 600, maxMitigationTimeout: 86400 };
    case "enterprise":
      return {
        rules: plan.rateLimitRules ?? 100,
        hostInExpression: true,
        // Advanced Rate Limiting adds Query, Host, Headers, Cookie, ASN, Country, Path, … as characteristics.
        characteristics: plan.advancedRateLimiting ? ["ip.src", "cf.unique_visitor_id", "http.host"] : ["ip.src", "cf.unique_visitor_id"],
        maxPeriod: 65535,
        maxMitigationTimeout: 86400,
      };
  }
}

export const MAX_EXPRESSION_CHARS = 4096;
export const MANDATORY_CHARACTERISTIC = "cf.colo.id";

export interface CloudflareRegistered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

interface RegisteredRule {
  ref?: string;
  expression?: string;
  ratelimit?: { characteristics?: string[]; period?: number; mitigationTimeout?: number; requestsPerPeriod?: number };
}

/** Known Cloudflare resource types the platform registers; anything else is a finding (add its rules here). */
export const CLOUDFLARE_TYPES = ["cloudflare:index/ruleset:Ruleset", "cloudflare:index/dnsRecord:DnsRecord", "pulumi:providers:cloudflare"];

/** Every rule above over what is registered for Cloudflare; one line per finding. */
export function checkCloudflareResources(registered: CloudflareRegistered[], plan: EdgePlan): string[] {
  const problems: string[] = [];
  const features = rateLimitingOf(plan);
  const phases = new Map<string, string[]>();
  for (const r of registered.filter((x) => x.type.startsWith("cloudflare:") || x.type === "pulumi:providers:cloudflare")) {
    if (!CLOUDFLARE_TYPES.includes(r.type)) {
      problems.push(`${r.type} ${r.name}: no Cloudflare rules for this type: add them to infra/vendorRules/cloudflare.ts, with their source`);
      continue;
    }
    if (r.type === "cloudflare:index/dnsRecord:DnsRecord") {
      const name = String(r.inputs.name);
      if (name.length > 255 || name.split(".").some((l) => l.length > 63 || l.length === 0)) problems.push(`${r.name}: DNS name "${name}" (${CLOUDFLARE_SOURCES.dns})`);
      continue;
    }
    if (r.type !== "cloudflare:index/ruleset:Ruleset") continue;
    const key = `${String(r.inputs.zoneId)}/${String(r.inputs.phase)}`;
    phases.set(key, [...(phases.get(key) ?? []), r.name]);
    const rules = (r.inputs.rules ?? []) as RegisteredRule[];
    for (const rule of rules) {
      if ((rule.expression ?? "").length > MAX_EXPRESSION_CHARS) problems.push(`${r.name}/${rule.ref}: expression of ${rule.expression!.length} characters (${CLOUDFLARE_SOURCES.expression})`);
      if (!features.hostInExpression && /http\.host/.test(rule.expression ?? "")) problems.push(`${r.name}/${rule.ref}: http.host in an expression is not available on ${plan.name} (${CLOUDFLARE_SOURCES.rateLimiting})`);
    }
    if (r.inputs.phase !== "http_ratelimit") continue;
    if (rules.length > features.rules) problems.push(`${r.name}: ${rules.length} rate limiting rules, ${plan.name} allows ${features.rules} (${CLOUDFLARE_SOURCES.rateLimiting})`);
    for (const rule of rules) {
      const rl = rule.ratelimit ?? {};
      const chars = rl.characteristics ?? [];
      if (!chars.includes(MANDATORY_CHARACTERISTIC)) problems.push(`${r.name}/${rule.ref}: characteristics lack the mandatory cf.colo.id (${CLOUDFLARE_SOURCES.rateLimiting})`);
      for (const c of chars.filter((x) => x !== MANDATORY_CHARACTERISTIC && !features.characteristics.includes(x))) {
        problems.push(`${r.name}/${rule.ref}: counting by ${c} is not available on ${plan.name}${plan.advancedRateLimiting ? "" : " without Advanced Rate Limiting"} (${CLOUDFLARE_SOURCES.rateLimiting})`);
      }
      if (rl.period === undefined || !RATE_LIMIT_PERIODS.includes(rl.period) || rl.period > features.maxPeriod) problems.push(`${r.name}/${rule.ref}: period ${rl.period} s (${plan.name}: a supported value up to ${features.maxPeriod} s; ${CLOUDFLARE_SOURCES.rateLimiting})`);
      if ((rl.mitigationTimeout ?? 0) > features.maxMitigationTimeout) problems.push(`${r.name}/${rule.ref}: mitigation timeout ${rl.mitigationTimeout} s (${plan.name}: up to ${features.maxMitigationTimeout} s)`);
    }
  }
  for (const [key, names] of phases) if (names.length > 1) problems.push(`${key}: ${names.length} entry point rulesets for one phase (${names.join(", ")}) (${CLOUDFLARE_SOURCES.entryPoint})`);
  return problems;
}
