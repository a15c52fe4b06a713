import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { readStackConfig } from "../../infra/config/stackFile";
import { effectiveBudgets } from "../../infra/kv/budgetStore";
import { validatePlatformConfig } from "../../infra/config/validate";
import { configReader } from "../../infra/config/stackFile";
import { SECURITY_HEADERS } from "../../infra/edge/edgeRules";
import { MAX_INLINE_TEMPLATE_BYTES } from "../../infra/observability/cdkTemplates";
import { checkAwsResources } from "../../infra/vendorRules/aws";
import { promiseOf, resolvedDeep, type RegisteredResource } from "../../test/pulumiMocks";
import { runPlatformUnderMocks } from "../../test/platformUnderMocks";

const CFN = "aws:cloudformation/stack:Stack";
const resolved = (r: RegisteredResource) => resolvedDeep<Record<string, unknown>>(r.inputs);

/** What AWS's written rules say of everything registered (infra/vendorRules/aws.ts), templates from the bucket included. */
async function awsFindings(registered: RegisteredResource[]): Promise<string[]> {
  const all = await Promise.all(registered.map(async (r) => ({ type: r.type, name: r.name, inputs: await resolved(r) })));
  const templates = all.filter((r) => r.type === "aws:s3/bucketObjectv2:BucketObjectv2")
    .map((o) => ({ name: String(o.inputs.key).replace(/-[0-9a-f]{16}\.json$/, ""), body: String(o.inputs.content) }));
  return checkAwsResources(all, templates);
}

describe.each(["staging", "prod"])("observability and edge on %s (mocks)", (stack) => {
  it("registers the CloudFormation stacks, the five headers, one DNS record per tenant, rate limits mirroring the budgets", async () => {
    const values = readStackConfig(stack);
    const config = validatePlatformConfig(configReader(values), stack);
    const { registered, failure, outputs } = await runPlatformUnderMocks(stack, values);
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

    const limits = rulesets.find((r) => r.phase === "http_ratelimit")!;
    const budgets = effectiveBudgets(config).tenants;
    for (const rule of limits.rules as { expression: string; ratelimit: { requestsPerPeriod: number; period: number } }[]) {
      const hosts = [...rule.expression.matchAll(/"([^"]+)"/g)].map((m) => m[1]!.split(".")[0]!);
      for (const tenant of hosts) expect(rule.ratelimit.requestsPerPeriod, tenant).toBe(budgets[tenant]!.requests);
    }
    const covered = (limits.rules as { expression: string }[]).flatMap((r) => [...r.expression.matchAll(/"([^"]+)"/g)].map((m) => m[1]!.split(".")[0]!)).sort();
    expect(covered).toEqual(Object.keys(budgets).sort());
    expect(await promiseOf(outputs.observabilityMetricBudget as never)).toMatchObject({ customMetrics: 4 + 3 * config.tenants.filter((t) => t.tier === "enterprise" || t.isolation === "dedicated").length });
  });

  it("everything sent to AWS keeps AWS's written rules: tag values per resource type (stack tags reach every resource), template limits (issue 23, defect 2)", async () => {
    const { registered, failure } = await runPlatformUnderMocks(stack, readStackConfig(stack));
    expect(failure).toBeUndefined();
    expect(await awsFindings(registered)).toEqual([]);
  });

  it("a second evaluation with the same config registers identical inputs (no perpetual diff)", async () => {
    const values = readStackConfig(stack);
    const pick = async (run: Awaited<ReturnType<typeof runPlatformUnderMocks>>) =>
      Promise.all(run.registered.filter((r) => r.type.startsWith("aws:") || r.type.startsWith("cloudflare:")).map(async (r) => ({ type: r.type, name: r.name, inputs: await resolved(r) })));
    const first = await pick(await runPlatformUnderMocks(stack, values));
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
  }, 120_000); // evaluating 1,000 tenants under mocks takes seconds; on a loaded CI machine, more

  it("more distinct budgets than the plan allows is a validation error before anything registers", async () => {
    const base = readStackConfig("staging");
    const limits = JSON.parse(base["bloom:limits"]!);
    limits.tenants = Object.fromEntries(["legacy", "pilot", "acme-dental"].map((t, i) => [t, { requests: 10 + i, window: "1 m" }]));
    const edge = JSON.parse(base["bloom:edge"]!);
    edge.plan.rateLimitRules = 2;
    const { registered, failure } = await runPlatformUnderMocks("staging", { ...base, "bloom:limits": JSON.stringify(limits), "bloom:edge": JSON.stringify(edge) });
    expect(String(failure)).toMatch(/bloom:edge\.plan\.rateLimitRules.*allows 2 rate-limit rules, but the tenants have 3 distinct budgets/);
    expect(registered).toEqual([]);
  });
});
