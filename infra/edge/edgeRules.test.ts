import { describe, expect, it } from "vitest";
import { EdgePlanError, rateLimitRules } from "./edgeRules";

describe("the edge's rate limiting rules", () => {
  const business = { name: "business", advancedRateLimiting: false } as const;

  it("one rule per budget however its window is spelt: 60 per 1 m and 60 per 60 s share bloom_rl_60_per_60s", () => {
    const rules = rateLimitRules({ a: { requests: 60, window: "1 m" }, b: { requests: 60, window: "60 s" }, c: { requests: 10, window: "10 s" } }, "bloom.example", business);
    expect(rules.map((r) => [r.ref, r.tenants])).toEqual([["bloom_rl_10_per_10s", ["c"]], ["bloom_rl_60_per_60s", ["a", "b"]]]);
  });

  it("a window Cloudflare cannot count is an EdgePlanError naming the budget, not a crash", () => {
    for (const window of ["1 d", "500 ms", "0 s"]) {
      const err = (() => { try { rateLimitRules({ a: { requests: 60, window } }, "bloom.example", business); } catch (e) { return e; } })();
      expect(err).toBeInstanceOf(EdgePlanError);
      expect((err as Error).message).toMatch(new RegExp(`budget "60 per ${window}" \\(tenant a\\)`));
    }
  });
});
