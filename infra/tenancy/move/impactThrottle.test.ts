import { describe, expect, it } from "vitest";
import { startImpactThrottle } from "./impactThrottle";

/** A probe that answers `ms()` each time: the test changes what the source "feels like". */
const probeOf = (ms: () => number) => async () => ms();

describe("the impact throttle of an online move's copy", () => {
  it("lets the copy run while the probe is within budget, holds it while the probe is over, and lets it go when it is back", async () => {
    let latency = 1;
    const lines: string[] = [];
    const throttle = await startImpactThrottle({ probe: probeOf(() => latency), maxImpact: 2, floorMs: 0.5, everyMs: 5, log: (l) => lines.push(l) });
    try {
      expect(throttle.budgetMs).toBe(2); // baseline 1 ms × 2
      await throttle.pace(1);
      expect(throttle.waitedMs).toBe(0);
      latency = 10;
      await new Promise((r) => setTimeout(r, 60)); // the probes see it
      setTimeout(() => (latency = 1), 150);
      const t = Date.now();
      await throttle.pace(1);
      expect(Date.now() - t).toBeGreaterThanOrEqual(100);
      expect(throttle.waitedMs).toBeGreaterThanOrEqual(100);
      expect(lines.some((l) => /copy throttled: the source's probe over 2\.0 ms \(baseline 1\.0 ms × 2\)/.test(l))).toBe(true);
    } finally {
      throttle.stop();
    }
  });

  it("the budget has a floor over an idle server's baseline, and one slow probe does not stall the copy", async () => {
    let n = 0;
    const throttle = await startImpactThrottle({ probe: probeOf(() => (++n === 12 ? 50 : 0.2)), maxImpact: 1.5, floorMs: 2, everyMs: 5 });
    try {
      expect(throttle.budgetMs).toBeCloseTo(2.2);
      await new Promise((r) => setTimeout(r, 80));
      await throttle.pace(1);
      expect(throttle.waitedMs).toBe(0);
    } finally {
      throttle.stop();
    }
  });

  it("a probe that fails lets the copy go (logged) rather than hold it forever", async () => {
    let fail = false;
    const lines: string[] = [];
    const throttle = await startImpactThrottle({ probe: async () => { if (fail) throw new Error("connection terminated"); return 1; }, maxImpact: 2, everyMs: 5, log: (l) => lines.push(l) });
    fail = true;
    await new Promise((r) => setTimeout(r, 30));
    await throttle.pace(1);
    expect(throttle.waitedMs).toBe(0);
    expect(lines).toContain("the copy's impact probe failed (connection terminated): the copy runs unthrottled");
    throttle.stop();
  });

  it("a stopped throttle never holds the copy, however slow the source", async () => {
    let latency = 1;
    const throttle = await startImpactThrottle({ probe: probeOf(() => latency), maxImpact: 2, everyMs: 5 });
    latency = 100;
    await new Promise((r) => setTimeout(r, 40));
    throttle.stop();
    await throttle.pace(1);
    expect(throttle.waitedMs).toBe(0);
  });
});
