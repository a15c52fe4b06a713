import { performance } from "node:perf_hooks";

/** One load run's answers: every latency and status, 2xx per limiter window, latencies per window. */
export interface Run {
  latencies: number[];
  statuses: Map<number, number>;
  /** 2xx answers per limiter window (epoch-aligned, as @upstash/ratelimit's windows are). */
  acceptedPerWindow: Map<number, number>;
  /** Latencies per limiter window, by send time (the Poisson runs only). */
  latenciesPerWindow?: Map<number, number[]>;
  seconds: number;
}

export const count = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);

export interface PoissonLoadOptions {
  url: string;
  path: string;
  cookies: string[];
  clinic: string;
  rate: number;
  seconds: number;
  /** The limiter's window (s), to bucket answers by. */
  windowS: number;
}

/**
 * An open loop: requests at Poisson arrivals (`rate` per second), each on its own, its latency counted from when it
 * was due. autocannon's `overallRate` sends each second's quota back to back at the second's start on every
 * connection, so two autocannon runs collide at every second by construction; real clinics do not.
 */
export async function poissonLoad(opts: PoissonLoadOptions): Promise<Run> {
  const run: Run = { latencies: [], statuses: new Map(), acceptedPerWindow: new Map(), latenciesPerWindow: new Map(), seconds: opts.seconds };
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  const inFlight: Promise<void>[] = [];
  let sent = 0;
  for (let due = start - Math.log(1 - Math.random()) * (1000 / opts.rate); due < end; due += -Math.log(1 - Math.random()) * (1000 / opts.rate)) {
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const scheduled = due;
    const windowOf = Math.floor((Date.now() + scheduled - performance.now()) / (opts.windowS * 1000));
    const cookie = opts.cookies[sent++ % opts.cookies.length]!; // round robin over the identifiers
    inFlight.push(fetch(opts.url + opts.path, { headers: { "x-clinic-id": opts.clinic, cookie } }).then(async (res) => {
      await res.arrayBuffer();
      const latency = performance.now() - scheduled;
      run.latencies.push(latency);
      const perWindow = run.latenciesPerWindow!.get(windowOf) ?? [];
      run.latenciesPerWindow!.set(windowOf, perWindow);
      perWindow.push(latency);
      count(run.statuses, res.status);
      if (res.status >= 200 && res.status < 300) count(run.acceptedPerWindow, windowOf);
    }, () => void count(run.statuses, 0)));
  }
  await Promise.all(inFlight);
  return run;
}
