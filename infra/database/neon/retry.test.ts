import { describe, expect, it } from "vitest";
import { backoffDelayMs, defaultRetryPolicy, retryAfterMs, withRetry } from "./retry";

describe("Neon retry policy", () => {
  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(retryAfterMs({ "retry-after": "3" })).toBe(3000);
    expect(retryAfterMs({ "retry-after": "0.5" })).toBe(500);
    const now = Date.parse("2026-11-27T09:00:00Z");
    expect(retryAfterMs({ "retry-after": "Fri, 27 Nov 2026 09:00:07 GMT" }, now)).toBe(7000);
    expect(retryAfterMs({})).toBeUndefined();
    expect(retryAfterMs({ "retry-after": "soon" })).toBeUndefined();
  });

  it("backs off exponentially with jitter, capped, and never below Retry-After", () => {
    const policy = { ...defaultRetryPolicy(), baseDelayMs: 100, maxDelayMs: 1000, random: () => 1 };
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelayMs(a, policy))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelayMs(0, { ...policy, random: () => 0.5 })).toBe(50);
    expect(backoffDelayMs(0, policy, 5000)).toBe(5000);
  });

  it("retries only 423, 429 and 503", async () => {
    const policy = { ...defaultRetryPolicy(), sleep: async () => undefined };
    for (const status of [423, 429, 503]) {
      let calls = 0;
      const result = await withRetry("op", async () => {
        if (++calls < 3) throw { response: { status } };
        return "ok";
      }, policy);
      expect([status, result, calls]).toEqual([status, "ok", 3]);
    }
    for (const status of [400, 404, 409, 500]) {
      let calls = 0;
      await expect(withRetry("op", async () => { calls++; throw { response: { status } }; }, policy)).rejects.toEqual({ response: { status } });
      expect(calls).toBe(1);
    }
  });
});
