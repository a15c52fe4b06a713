import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { readStackConfig } from "../../infra/config/stackFile";
import { effectiveBudgets } from "../../infra/kv/budgetStore";
import { validatePlatformConfig } from "../../infra/config/validate";
import { configReader } from "../../infra/config/stackFile";
import { SECURITY_HEADERS } from "../../infra/edge/edgeRules";
import { MAX_INLINE_TEMPLATE_BYTES } from "../../infra/observability/cdkTemplates";
import { checkAwsResources } from "../../infra/vendorRules/aws";
import { checkCloudflareResources, type EdgePlan } from "../../infra/vendorRules/cloudflare";
import * as cloudflare from "@pulumi/cloudflare";
import { Edge } from "../../components/edge/edge";
import { promiseOf, resolvedDeep, runUnderMocks, type RegisteredResource } from "../../test/pulumiMocks";
import { runPlatformUnderMocks } from "../../test/platformUnderMocks";

const CFN = "aws:cloudformation/stack:Stack";
const resolved = (r: RegisteredResource) => resolvedDeep<Record<string, unknown>>(r.inputs);

/** How Cloudflare evaluates the three expression shapes the edge renders, for one Host header. */
function matchesHost(expression: string, host: string): boolean {
  if (expression === "true") return true;
  const m = /^(not )?\(http\.host in \{([^}]*)\}\)$/.exec(expression);
  if (!m) throw new Error(`an expression shape the edge does not render: ${expression.slice(0, 80)}`);
  const listed = [...m[2]!.matchAll(/"([^"]+)"/g)].map((x) => x[1]);
  return m[1] ? !listed.includes(host) : listed.includes(host);
}

/** The zone's plan as the config declares it. */
const planOf = (config: ReturnType<typeof validatePlatformConfig>): EdgePlan => {
  const p = config.edge!.plan as Partial<EdgePlan>;
  return { name: p.name ?? "business", advancedRateLimiting: p.advancedRateLimiting ?? false, rateLimitRules: p.rateLimitRules };
};

async function cloudflareFindings(registered: RegisteredResource[], plan: EdgePlan): Promise<string[]> {
  const all = await Promise.all(registered.filter((r) => r.type.includes("cloudflare")).map(async (r) => ({ type: r.type, name: r.name, inputs: await resolved(r) })));
  return checkCloudflareResources(all, plan);
}

/** What AWS's written rules say of everything registered (infra/vendorRules/aws.ts), templates from the bucket included. */
async function awsFindings(registered: RegisteredResource[]): Promise<string[]> {
  const all = await Promise.all(registered.map(async (r) => ({ type: r.type, name: r.name, inputs: await resolved(r) })));
  const templates = all.filter((r) => r.type === "aws:s3/bucketObjectv2:BucketObjectv2")
    .map((o) => ({ name: String(o.inputs.key).replace(/-[0-9a-f]{16}\.json$/, ""), body: String(o.inputs.content) }));
  return checkAwsResources(all, templates);
}

describe.each(["staging", "prod"])("observability and edge on %s (mocks)", (stack) => {
  // One evaluation of the stack's program, read by the tests below (each evaluation takes seconds); the
  // determinism test compares it with an evaluation of its own.
  let evaluation: ReturnType<typeof runPlatformUnderMocks> | undefined;
  const evaluated = () => (evaluation ??= runPlatformUnderMocks(stack, readStackConfig(stack)));

  it("registers the CloudFormation stacks, the five headers, one DNS record per tenant, rate limits mirroring the budgets", async () => {
    const config = validatePlatformConfig(configReader(readStackConfig(stack)), stack);
    const { registered, failure, outputs } = await evaluated();
    expect(failure).toBeUndefined();
    const cfn = await Promise.all(registered.filter((r) => r.type === CFN).map(resolved));
    expect(cfn.map((c) => c.name)).toEqual([`bloom-${stack}-observability`, `bloom-${stack}-slo-1`]);
    // The environment template inline (it is small whatever the fleet); the tenant shard by URL from the bucket.
    expect(typeof cfn[0]!.templateBody === "string" && Buffer.byteLength(cfn[0]!.templateBody as string) <= MAX_INLINE_TEMPLATE_BYTES).toBe(true);
    expect(cfn[1]!.templateBody).toBeUndefined();
    expect(cfn[1]!.templateUrl).toMatch(/^https:\/\/.*\/bloom-[a-z]+-slo-1-[0-9a-f]{16}\.json$/);
    expect(cfn[0]!.tags).toEqual({ "bloom:personal-data": "request logs", "bloom:ropa": `bloom ropa --stack ${stack}` });

    const rulesets = await Promise.all(registered.filter((r) => r.type === "cloudflare:index/ruleset:Ruleset").map(resolved));
    const headers = rulesets.find((r) => r.phase === "http_response_headers_transform")!;
    const set = (headers.rules as { actionParameters: { headers: Record<string, { operation: string; value: string }> } }[])[0]!.actionParameters.headers;
    expect(Object.fromEntries(Object.entries(set).map(([k, v]) => [k, v.value]))).toEqual(SECURITY_HEADERS);
    expect(Object.values(set).every((h) => h.operation === "set")).toBe(true);
    expect(Object.keys(set)).toHaveLength(5);

    const dns = await Promise.all(registered.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord").map(resolved));
    expect(dns.map((d) => d.name).sort()).toEqual(config.tenants.map((t) => `${t.id}.${config.edge!.zone}`).sort());
    expect(dns.every((d) => d.type === "CNAME" && d.content === config.edge!.origin && d.proxied === true)).toBe(true);
    // Each DNS record hangs under its tenant's component.
    for (const r of registered.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord")) expect(await promiseOf((r.opts.parent as pulumi.Resource).urn)).toMatch(/bloom:tenancy:Tenant::tenant-/);

    // Each tenant's host is matched by exactly one rule, and that rule carries the tenant's budget.
    const limits = rulesets.find((r) => r.phase === "http_ratelimit")!;
    const budgets = effectiveBudgets(config).tenants;
    const rules = limits.rules as { expression: string; ratelimit: { requestsPerPeriod: number; period: number } }[];
    for (const [tenant, budget] of Object.entries(budgets)) {
      const matching = rules.filter((r) => matchesHost(r.expression, `${tenant}.${config.edge!.zone}`));
      expect(matching.map((r) => r.ratelimit.requestsPerPeriod), tenant).toEqual([budget.requests]);
    }
    expect(await promiseOf(outputs.observabilityMetricBudget as never)).toMatchObject({ customMetrics: 4 + 3 * config.tenants.filter((t) => t.tier === "enterprise" || t.isolation === "dedicated").length });
  });

  it("everything sent to AWS keeps AWS's written rules: tag values per resource type (stack tags reach every resource), template limits (issue 23, defect 2)", async () => {
    const { registered, failure } = await evaluated();
    expect(failure).toBeUndefined();
    expect(await awsFindings(registered)).toEqual([]);
  });

  it("everything sent to Cloudflare keeps its written rules for the zone's plan: counting characteristics, periods, rule counts, expression length, one entry point per phase (issue 23, defects 3-4)", async () => {
    const config = validatePlatformConfig(configReader(readStackConfig(stack)), stack);
    const { registered, failure } = await evaluated();
    expect(failure).toBeUndefined();
    expect(await cloudflareFindings(registered, planOf(config))).toEqual([]);
  });

  it("a second evaluation with the same config registers identical inputs (no perpetual diff)", async () => {
    const values = readStackConfig(stack);
    const pick = async (run: Awaited<ReturnType<typeof runPlatformUnderMocks>>) =>
      Promise.all(run.registered.filter((r) => r.type.startsWith("aws:") || r.type.startsWith("cloudflare:")).map(async (r) => ({ type: r.type, name: r.name, inputs: await resolved(r) })));
    const first = await pick(await evaluated());
    expect(first.length).toBeGreaterThan(3);
    expect(JSON.stringify(await pick(await runPlatformUnderMocks(stack, values)))).toBe(JSON.stringify(first));
  });
});

describe("1,000 tenants, 10 % enterprise, with observability and edge (mocks)", () => {
  it("large templates go through a bucket object and templateUrl; the rate-limit rules fit the plan", async () => {
    const base = readStackConfig("staging");
    const tenants = Array.from({ length: 1000 }, (_, i) => ({ id: `clinic-${i}`, name: `Clinic ${i}`, tier: i % 10 === 0 ? "enterprise" : "standard", isolation: "pooled", residency: "eu" }));
    const { registered, failure } = await runPlatformUnderMocks("staging", { ...base, "bloom:tenants": JSON.stringify(tenants), "bloom:flags": "{}" });
    expect(failure).toBeUndefined();
    const cfn = await Promise.all(registered.filter((r) => r.type === CFN).map(resolved));
    expect(cfn.length).toBe(3); // the environment + two shards of 50 enterprise tenants
    const byUrl = cfn.filter((c) => c.templateUrl);
    expect(byUrl.map((c) => c.name)).toEqual(["bloom-staging-slo-1", "bloom-staging-slo-2"]);
    expect(byUrl.every((c) => !c.templateBody && c.parameters)).toBe(true);
    const objects = await Promise.all(registered.filter((r) => r.type === "aws:s3/bucketObjectv2:BucketObjectv2").map(resolved));
    expect(objects.map((o) => Buffer.byteLength(o.content as string) > MAX_INLINE_TEMPLATE_BYTES)).toEqual([true, true]);
    const limits = await Promise.all(registered.filter((r) => r.type === "cloudflare:index/ruleset:Ruleset").map(resolved));
    const rules = limits.find((r) => r.phase === "http_ratelimit")!.rules as unknown[];
    expect(rules.length).toBeLessThanOrEqual(5); // the plan's rateLimitRules in Pulumi.staging.yaml
    expect(registered.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord")).toHaveLength(1000);
    expect(await awsFindings(registered)).toEqual([]); // both shards' templates from the bucket, the stacks' tags
    expect(await cloudflareFindings(registered, { name: "business", advancedRateLimiting: false })).toEqual([]);
  }, 120_000); // evaluating 1,000 tenants under mocks takes seconds; on a loaded CI machine, more

  it.each([
    { name: "pro" }, { name: "business" }, { name: "enterprise" }, { name: "enterprise", advancedRateLimiting: true },
  ])("1,000 tenants on %o: accepted, rendered within Cloudflare's rules for that plan, each tenant under its own budget", async (plan) => {
    const base = readStackConfig("staging");
    const tenants = Array.from({ length: 1000 }, (_, i) => ({ id: `clinic-${i}`, name: `Clinic ${i}`, tier: i % 10 === 0 ? "enterprise" : "standard", isolation: "pooled", residency: "eu" }));
    const edge = { ...JSON.parse(base["bloom:edge"]!), plan };
    const values = { ...base, "bloom:tenants": JSON.stringify(tenants), "bloom:flags": "{}", "bloom:edge": JSON.stringify(edge) };
    const config = validatePlatformConfig(configReader(values), "staging"); // accepted
    // The edge component alone (what registers the rulesets), on that config's budgets: the whole program at 1,000
    // tenants runs once above.
    const { registered, failure } = await runUnderMocks("staging", () => new Edge("edge", {
      zoneId: config.edge!.zoneId, zone: config.edge!.zone, plan: config.edge!.plan, adoptedRulesets: config.edge!.adoptedRulesets,
      budgets: effectiveBudgets(config).tenants, provider: new cloudflare.Provider("cloudflare", { apiToken: "t" }),
    }));
    expect(failure).toBeUndefined();
    expect(await cloudflareFindings(registered, planOf(config))).toEqual([]);
    const limits = await Promise.all(registered.filter((r) => r.type === "cloudflare:index/ruleset:Ruleset").map(resolved));
    const rules = limits.find((r) => r.phase === "http_ratelimit")!.rules as { expression: string; ratelimit: { requestsPerPeriod: number; characteristics: string[] } }[];
    const budgets = effectiveBudgets(config).tenants;
    for (const tenant of ["clinic-0", "clinic-1", "clinic-990", "clinic-999"]) {
      expect(rules.filter((r) => matchesHost(r.expression, `${tenant}.${config.edge!.zone}`)).map((r) => r.ratelimit.requestsPerPeriod), tenant).toEqual([budgets[tenant]!.requests]);
    }
    expect(rules.every((r) => r.ratelimit.characteristics.includes("http.host") === (plan.advancedRateLimiting === true))).toBe(true);
  }, 120_000);

  it("a plan that cannot express the budgets is refused before anything registers, naming the field: Free (no Host), Pro with 3 budgets, 1,000 tenants of many budgets", async () => {
    const base = readStackConfig("staging");
    const run = (edgePlan: object, extra: Record<string, string> = {}) =>
      runPlatformUnderMocks("staging", { ...base, "bloom:edge": JSON.stringify({ ...JSON.parse(base["bloom:edge"]!), plan: edgePlan }), ...extra });
    const free = await run({ name: "free" });
    expect(String(free.failure)).toMatch(/bloom:edge\.plan\.name.*free plan matches rate limits on the URI path only/);
    expect(free.registered).toEqual([]);
    const pro = await run({ name: "pro" });
    expect(String(pro.failure)).toMatch(/bloom:edge\.plan\.name.*allows 2 rate limiting rules on pro, but the tenants have 3 distinct budgets/);
    expect(pro.registered).toEqual([]);
    // 1,000 tenants, five budgets of 200: every explicitly listed group is over 4,096 characters.
    const tenants = Array.from({ length: 1000 }, (_, i) => ({ id: `clinic-${i}`, name: `Clinic ${i}`, tier: "standard", isolation: "pooled", residency: "eu" }));
    const limits = { tiers: JSON.parse(base["bloom:limits"]!).tiers, tenants: Object.fromEntries(tenants.map((t, i) => [t.id, { requests: 100 + (i % 5), window: "1 m" }])) };
    const wide = await run({ name: "business" }, { "bloom:tenants": JSON.stringify(tenants), "bloom:flags": "{}", "bloom:limits": JSON.stringify(limits) });
    expect(String(wide.failure)).toMatch(/bloom:limits.*would be \d+ characters \(200 tenants listed\), over Cloudflare's 4096/);
    expect(wide.registered).toEqual([]);
  }, 120_000);
});
