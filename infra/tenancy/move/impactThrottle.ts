import type { Client } from "pg";

/**
 * An adaptive throttle for an online move's initial copy, in the manner of gh-ost's (which throttles its row copy
 * on replica lag and on user-defined checks): a probe of the source's latency runs on a timer beside the copy, and
 * while it is over budget every chunk of the copy waits; below it, the copy runs at full speed. The budget is a
 * multiple of the probe's own latency measured before the copy began (`maxImpact`), with a floor, since a
 * round trip on an idle server is a fraction of a millisecond and noise alone would double it.
 */
export interface ImpactThrottle {
  /** Awaited before each chunk of the copy is passed on. */
  pace(bytes: number): Promise<void>;
  stop(): void;
  /** How long the copy waited in all, and the budget it was held to. */
  readonly waitedMs: number;
  readonly budgetMs: number;
}

export interface ImpactThrottleOptions {
  /** One round trip of the probe, in ms. */
  probe: () => Promise<number>;
  /** The copy waits while the probe is over max(baseline × maxImpact, baseline + floorMs). */
  maxImpact: number;
  floorMs?: number;
  everyMs?: number;
  log?: (line: string) => void;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function startImpactThrottle(opts: ImpactThrottleOptions): Promise<ImpactThrottle> {
  const every = opts.everyMs ?? 100;
  const baseline: number[] = [];
  for (let i = 0; i < 9; i++) baseline.push(await opts.probe());
  const base = median(baseline);
  const budgetMs = Math.max(base * opts.maxImpact, base + (opts.floorMs ?? 2));
  // The last three probes: over budget when their median is, so one slow probe does not stall the copy.
  const recent = [base, base, base];
  let stopped = false;
  let waitedMs = 0;
  let lastLog = 0;
  void (async () => {
    while (!stopped) {
      let ms: number;
      try {
        ms = await opts.probe();
      } catch (err) {
        // Without its probe the throttle cannot tell; it lets the copy go rather than hold it forever (the copy's own
        // connections report whatever ended the probe's).
        opts.log?.(`the copy's impact probe failed (${(err as Error).message}): the copy runs unthrottled`);
        stopped = true;
        break;
      }
      recent.shift();
      recent.push(ms);
      await new Promise((r) => setTimeout(r, every));
    }
  })();
  const over = () => !stopped && median(recent) > budgetMs;
  return {
    async pace() {
      if (!over()) return;
      const started = Date.now();
      while (over()) await new Promise((r) => setTimeout(r, every));
      waitedMs += Date.now() - started;
      if (Date.now() - lastLog > 2_000) {
        lastLog = Date.now();
        opts.log?.(`copy throttled: the source's probe over ${budgetMs.toFixed(1)} ms (baseline ${base.toFixed(1)} ms × ${opts.maxImpact}); waited ${(waitedMs / 1000).toFixed(1)} s so far`);
      }
    },
    stop() {
      stopped = true;
    },
    get waitedMs() {
      return waitedMs;
    },
    budgetMs,
  };
}

/**
 * The probe: the smallest write transaction, on its own connection to the source — a transaction id taken and its
 * commit flushed (what every tenant's write waits for: the server's CPU and its WAL), in one round trip.
 */
export function commitProbe(c: Client): () => Promise<number> {
  return async () => {
    const t = performance.now();
    await c.query("SELECT pg_catalog.txid_current()");
    return performance.now() - t;
  };
}
