import { describe, expect, it } from "vitest";
import { runLimit } from "./concurrency";

describe("runLimit", () => {
  it("runs at most `limit` at once across callers, the rest in order, and frees its slot when a run fails", async () => {
    const limit = runLimit(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const waited: number[] = [];
    const job = (i: number) => limit(async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      order.push(i);
      if (i === 1) throw new Error("engine run failed");
      return i;
    }, (ahead) => waited.push(ahead));
    const settled = await Promise.allSettled([0, 1, 2, 3, 4].map(job));
    expect(peak).toBe(2);
    expect(waited).toEqual([1, 2, 3]);
    expect(order.slice(2)).toEqual([2, 3, 4]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"]);
    expect(await limit(async () => "after")).toBe("after"); // every slot came back
  });

  it("refuses a limit that is not a whole number of at least 1", () => {
    expect(() => runLimit(0)).toThrow(/at least 1, not 0/);
  });
});
