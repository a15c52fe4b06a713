import { describe, expect, it } from "vitest";
import { checkAwsResources } from "./aws";
import { checkCloudflareResources } from "./cloudflare";
import { branchExpiryProblem } from "./neon";

/** Each checker finds what it is for — and a resource type it has no rules for is itself a finding. */
describe("vendor rules as code", () => {
  it("AWS: an unknown resource type, a tag value CloudWatch Logs refuses through the stack's tags, an oversized template", () => {
    const body = (resources: Record<string, unknown>) => JSON.stringify({ Resources: resources });
    const findings = checkAwsResources([
      { type: "aws:sqs/queue:Queue", name: "q", inputs: {} },
      { type: "aws:cloudformation/stack:Stack", name: "s", inputs: { name: "s", tags: { "bloom:note": "logs (30 days)" }, templateBody: body({ l: { Type: "AWS::Logs::LogGroup" }, x: { Type: "AWS::SQS::Queue" } }) } },
    ], []);
    expect(findings).toEqual(expect.arrayContaining([
      expect.stringMatching(/aws:sqs\/queue:Queue q: no AWS rules/),
      expect.stringMatching(/s \(stack tags on its AWS::Logs::LogGroup\): tag bloom:note="logs \(30 days\)" .*aws-logs-loggroup\.json/),
      expect.stringMatching(/s\/x: no AWS rules for AWS::SQS::Queue/),
    ]));
    const big = body(Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`m${i}`, { Type: "AWS::Logs::MetricFilter" }])));
    expect(checkAwsResources([{ type: "aws:cloudformation/stack:Stack", name: "big", inputs: { name: "big", templateUrl: "https://x" } }], [{ name: "big", body: big }]))
      .toEqual([expect.stringMatching(/big: 501 resources/)]);
  });

  it("Cloudflare: an unknown type, a long expression, counting by host without ARL, a period the plan lacks, two entry points of a phase", () => {
    const ruleset = (name: string, rules: unknown[]) => ({ type: "cloudflare:index/ruleset:Ruleset", name, inputs: { zoneId: "z", phase: "http_ratelimit", rules } });
    const findings = checkCloudflareResources([
      { type: "cloudflare:index/workersScript:WorkersScript", name: "w", inputs: {} },
      ruleset("a", [{ ref: "r1", expression: "x".repeat(4097), ratelimit: { characteristics: ["cf.colo.id", "http.host", "ip.src"], period: 120, mitigationTimeout: 120 } }]),
      ruleset("b", []),
    ], { name: "pro", advancedRateLimiting: false });
    expect(findings).toEqual(expect.arrayContaining([
      expect.stringMatching(/WorkersScript w: no Cloudflare rules/),
      expect.stringMatching(/a\/r1: expression of 4097 characters/),
      expect.stringMatching(/a\/r1: counting by http\.host is not available on pro without Advanced Rate Limiting/),
      expect.stringMatching(/a\/r1: period 120 s \(pro: a supported value up to 60 s/),
      expect.stringMatching(/z\/http_ratelimit: 2 entry point rulesets for one phase/),
    ]));
  });

  it("Neon: expiry past, beyond 30 days, or not RFC 3339", () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    expect(branchExpiryProblem("2026-12-31T00:00:00Z", now)).toBeUndefined();
    expect(branchExpiryProblem("2026-11-30T00:00:00Z", now)).toMatch(/not in the future/);
    expect(branchExpiryProblem("2027-01-01T00:00:00Z", now)).toMatch(/more than 30 days ahead/);
    expect(branchExpiryProblem("2026-12-02 00:00:00", now)).toMatch(/not RFC 3339/);
  });
});
