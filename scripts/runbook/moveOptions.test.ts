import { describe, expect, it } from "vitest";
import { parseCopyRate, parseGrace, parseMaxImpact } from "./tenantCommands";

describe("move options on the command line", () => {
  it("--grace: days by default, h, m and s suffixes, 0; anything else named with the fix", () => {
    expect(parseGrace(undefined)).toBe(7 * 86_400_000);
    expect([parseGrace("2d"), parseGrace("12h"), parseGrace("30m"), parseGrace("0"), parseGrace("3"), parseGrace("45s")]).toEqual([2 * 86_400_000, 12 * 3_600_000, 30 * 60_000, 0, 3 * 86_400_000, 45_000]);
    expect(() => parseGrace("a week")).toThrow(/--grace "a week": give a duration like 7d, 12h, 30m, 45s or 0/);
  });
  it("--copy-rate: a positive number of MB/s, or no cap", () => {
    expect(parseCopyRate(undefined)).toBeUndefined();
    expect(parseCopyRate("12.5")).toBe(12.5);
    for (const bad of ["0", "-3", "fast", ""]) expect(() => parseCopyRate(bad), bad).toThrow(/--copy-rate ".*": give the initial copy's cap in MB\/s, a number above 0/);
  });
  it("--max-impact: a ratio of at least 1, 0 for no throttle, or the default", () => {
    expect([parseMaxImpact(undefined), parseMaxImpact("1.5"), parseMaxImpact("0")]).toEqual([undefined, 1.5, 0]);
    for (const bad of ["0.5", "-1", "gentle", ""]) expect(() => parseMaxImpact(bad), bad).toThrow(/--max-impact ".*": give how much slower a write at the source may get .* a ratio of at least 1 \(e\.g\. 2\), or 0 for no throttle/);
  });
});
