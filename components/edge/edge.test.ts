import * as cloudflare from "@pulumi/cloudflare";
import { describe, expect, it } from "vitest";
import { runUnderMocks } from "../../test/pulumiMocks";
import { Edge } from "./edge";

/**
 * A zone that already has an entry-point ruleset for a phase the platform owns (rules made in the dashboard):
 * Cloudflare refuses a second one, so the edge refuses first, naming the adoption step (issue 23, defect 5).
 * The zone's rulesets come from Cloudflare's list (cloudflare.getRulesets), answered here by the mocks.
 */
const ZONE = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const DASHBOARD = "0123456789abcdef0123456789abcdef";
const budgets = { acme: { requests: 100, window: "1 m" } };

/**
 * Under mocks a resource whose inputs fail to resolve rejects inside Pulumi's runtime, unawaited (the engine reports
 * it and fails the run); the test collects those rejections instead of letting them escape as unhandled.
 */
async function collectingRejections<T>(work: () => Promise<T>): Promise<{ result: T; rejections: string[] }> {
  const rejections: string[] = [];
  const others = process.listeners("unhandledRejection");
  process.removeAllListeners("unhandledRejection");
  const collect = (reason: unknown) => void rejections.push(String(reason));
  process.on("unhandledRejection", collect);
  try {
    const result = await work();
    await new Promise((r) => setTimeout(r, 50));
    return { result, rejections };
  } finally {
    process.off("unhandledRejection", collect);
    for (const l of others) process.on("unhandledRejection", l as (...a: unknown[]) => void);
  }
}

function edgeWith(existing: { id: string; kind: string; name: string; phase: string }[], adopted: Record<string, string> = {}) {
  let zoneListed = false;
  const run = runUnderMocks("staging", () => new Edge("edge", {
    zoneId: ZONE, zone: "staging.bloom.example", plan: { name: "business", advancedRateLimiting: false }, adoptedRulesets: adopted, budgets,
    provider: new cloudflare.Provider("cloudflare", { apiToken: "t" }),
  }), {}, [], (args) => {
    if (args.token !== "cloudflare:index/getRulesets:getRulesets") return args.inputs;
    zoneListed = args.inputs.zoneId === ZONE;
    return { zoneId: ZONE, rulesets: existing, results: existing };
  });
  return run.then((r) => ({ ...r, zoneListed }));
}

describe("the edge and a zone's existing entry-point rulesets", () => {
  it("a rate-limit entry point made in the dashboard is a refusal that names the pulumi import step and bloom:edge.adoptedRulesets", async () => {
    const { result: { registered, zoneListed }, rejections } = await collectingRejections(() => edgeWith([{ id: DASHBOARD, kind: "zone", name: "default", phase: "http_ratelimit" }]));
    expect(zoneListed).toBe(true);
    const message = rejections.join("\n");
    expect(message).toMatch(/zone a1b2.* already has a http_ratelimit entry-point ruleset "default" \(0123456789abcdef0123456789abcdef\)/);
    expect(message).toMatch(/pulumi import cloudflare:index\/ruleset:Ruleset edge-rate-limits zones\/a1b2c3d4e5f60718293a4b5c6d7e8f90\/0123456789abcdef0123456789abcdef --parent edge=urn:pulumi:staging::bloom-platform::bloom:edge:Edge::edge --provider cloudflare=urn:pulumi:staging::bloom-platform::pulumi:providers:cloudflare::cloudflare/);
    expect(message).toMatch(/bloom:edge\.adoptedRulesets\.http_ratelimit: 0123456789abcdef0123456789abcdef/);
    // Both rulesets' rules wait on the check, so neither registration completes while it fails.
    expect(message.match(/error serializing property "rules"/g)?.length).toBeGreaterThanOrEqual(2);
    expect(registered.filter((r) => r.type === "cloudflare:index/ruleset:Ruleset")).toHaveLength(2);
  });

  it("passes for the platform's own rulesets, for an adopted one, and for other phases' rulesets", async () => {
    for (const [existing, adopted] of [
      [[{ id: "1".repeat(32), kind: "zone", name: "bloom tenant rate limits", phase: "http_ratelimit" }], {}],
      [[{ id: DASHBOARD, kind: "zone", name: "default", phase: "http_ratelimit" }], { http_ratelimit: DASHBOARD }],
      [[{ id: DASHBOARD, kind: "zone", name: "waf", phase: "http_request_firewall_custom" }], {}],
    ] as const) {
      const { result, rejections } = await collectingRejections(() => edgeWith([...existing], adopted));
      expect(result.failure).toBeUndefined();
      expect(rejections).toEqual([]);
    }
  });
});
