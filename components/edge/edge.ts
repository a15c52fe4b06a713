import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import type { Budget } from "../../infra/kv/budgetStore";
import { rateLimitRules, SECURITY_HEADERS } from "../../infra/edge/edgeRules";
import { entryPointConflicts, type ExistingRuleset } from "../../infra/edge/entryPoints";
import type { EdgePlan } from "../../infra/vendorRules/cloudflare";

export interface EdgeArgs {
  zoneId: string;
  zone: string;
  plan: EdgePlan;
  /** Entry-point rulesets imported into the stack (phase → id): the platform owns them. */
  adoptedRulesets: Record<string, string>;
  /** Effective budget per tenant (each tenant's contribution to the zone's rate-limit phase). */
  budgets: Record<string, Budget>;
  provider: cloudflare.Provider;
}

/**
 * The zone-level rulesets. A zone ruleset owns every rule of its phase, so each phase's complete rule list is
 * declared here, once: the five security headers, and the rate limits rendered from the tenants' budgets.
 * (Each tenant's DNS record hangs under its own tenant component.)
 */
export class Edge extends pulumi.ComponentResource {
  readonly rateLimitRuleCount: number;
  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bloom:edge:Edge", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const owned = [
      { phase: "http_response_headers_transform", name: "bloom security headers", resource: `${name}-security-headers` },
      { phase: "http_ratelimit", name: "bloom tenant rate limits", resource: `${name}-rate-limits` },
    ];
    // Before either ruleset registers: a foreign entry point of its phase refuses the run (entryPoints.ts).
    const zoneClear = cloudflare.getRulesetsOutput({ zoneId: args.zoneId }, { provider: args.provider }).apply((listed) => {
      const urn = (type: string, n: string) => `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${type}::${n}`;
      const importOptions = ` --parent ${name}=${urn("bloom:edge:Edge", name)} --provider cloudflare=${urn("pulumi:providers:cloudflare", "cloudflare")}`;
      const problems = entryPointConflicts(args.zoneId, (listed.rulesets ?? []) as ExistingRuleset[], owned, args.adoptedRulesets, importOptions);
      if (problems.length) throw new Error(problems.join("\n"));
      return true;
    });
    const afterCheck = <T,>(value: T) => zoneClear.apply(() => value);
    new cloudflare.Ruleset(`${name}-security-headers`, {
      zoneId: args.zoneId,
      kind: "zone",
      phase: "http_response_headers_transform",
      name: owned[0]!.name,
      description: "The playbook's security headers on every response",
      rules: afterCheck([{
        ref: "bloom_security_headers",
        description: "CSP, HSTS with preload, X-Frame-Options, nosniff, Referrer-Policy",
        expression: "true",
        action: "rewrite",
        actionParameters: { headers: Object.fromEntries(Object.entries(SECURITY_HEADERS).map(([header, value]) => [header, { operation: "set", value }])) },
      }]),
    }, child);
    const rules = rateLimitRules(args.budgets, args.zone, args.plan);
    new cloudflare.Ruleset(`${name}-rate-limits`, {
      zoneId: args.zoneId,
      kind: "zone",
      phase: "http_ratelimit",
      name: owned[1]!.name,
      description: "Mirrors bloom:limits: one rule per budget, tenants grouped by hostname",
      rules: afterCheck(rules.map((r) => ({
        ref: r.ref,
        description: r.description,
        expression: r.expression,
        action: "block",
        ratelimit: { characteristics: r.characteristics, period: r.period, requestsPerPeriod: r.requestsPerPeriod, mitigationTimeout: r.period },
      }))),
    }, child);
    this.rateLimitRuleCount = rules.length;
    this.registerOutputs({ rateLimitRuleCount: this.rateLimitRuleCount });
  }
}
