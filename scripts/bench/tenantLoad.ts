import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { percentile } from "./stats";
import { count, poissonLoad as poissonLoadIn, type PoissonLoadOptions, type Run } from "./poissonLoad";
import { poissonLoadOnThread } from "./floodThread";
import { buildExampleApp, exampleAppEnv, startExampleApp, type RunningExampleApp } from "../exampleApp";
import { findEngine } from "../engine/engineLocation";
import { evenRefill, TENANT_BURST_DIVISOR } from "@bloom/tenant-runtime/limiter";

/**
 * bench:tenant-load — the playbook's load gate per tenant, against the example app on a throw-away local stack
 * (the real engine's `up`, PgBouncer, the store behind its endpoint; autocannon on loopback):
 *   1. each tenant alone: p50/p95/p99 of list and create, and the app's saturation throughput on the list;
 *   2. N+1: statements per request (the app's own count of what its pools send) for list — a page of 11 rows and
 *      one of 200 — and for create;
 *   3. noisy neighbour: the victim (alpha) at a steady rate (Poisson arrivals), alone and then while the aggressor
 *      (beta) floods from `--identifiers` sessions (round robin) at `--flood` × the saturation throughput —
 *      `--flood-shape poisson` (default): independent arrivals, as many clients' are; `bursts`: autocannon's
 *      `overallRate`, which sends each connection's quota for a second back to back at the second's start, every
 *      connection in phase (one connection per identifier) — over `--windows` of the aggressor's budget window
 *      (`--window`, 20 s), aligned to epoch multiples of it; the aggressor's tenant-wide budget is `--budget-share` of
 *      saturation (0.1) per window, paced (a token bucket of a 25th of it). The victim's p95 is also given per window,
 *      alone and under the flood; `--warmup <s>` floods that long, unmeasured, before the measured windows. The Poisson
 *      flood's client runs on its own thread (`--flood-client in-process`: on the victim client's event loop).
 * Headline: `noisy-neighbour victim p95 ratio = <x> (target <= 1.2)`. Not run by CI (timings are noise there).
 */
const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    windows: { type: "string", default: "3" },
    window: { type: "string", default: "20" },
    identifiers: { type: "string", default: "50" },
    flood: { type: "string", default: "0.6" },
    "victim-rate": { type: "string", default: "0.1" },
    // The aggressor's tenant-wide budget as a share of saturation: by default the victim's own rate (`--victim-rate`),
    // so both clinics are entitled to the same and the aggressor offers 6 × its budget. At 0.25 its admitted work
    // alone is a quarter of the instance beside the victim (the previous default).
    "budget-share": { type: "string", default: "0.1" },
    "flood-shape": { type: "string", default: "poisson" },
    warmup: { type: "string", default: "0" },
    // Where the Poisson flood's client runs: its own thread (default; the aggressor's clients are other machines),
    // or the victim's event loop (`in-process`, as before: the flood's answers then delay the victim's client).
    "flood-client": { type: "string", default: "thread" },
    profile: { type: "string" },
  },
});
const PHASE_S = Number(values.seconds);
const WINDOWS = Number(values.windows);
const WINDOW_S = Number(values.window);
const IDENTIFIERS = Number(values.identifiers);
const FLOOD = Number(values.flood);
const VICTIM_SHARE = Number(values["victim-rate"]);
const BUDGET_SHARE = Number(values["budget-share"]);
const FLOOD_SHAPE = values["flood-shape"];
const WARMUP_S = Number(values.warmup);
const FLOOD_CLIENT = values["flood-client"];
if (FLOOD_CLIENT !== "thread" && FLOOD_CLIENT !== "in-process") throw new Error(`--flood-client: "thread" or "in-process", not "${FLOOD_CLIENT}"`);
if (FLOOD_SHAPE !== "poisson" && FLOOD_SHAPE !== "bursts") throw new Error(`--flood-shape: "poisson" or "bursts", not "${FLOOD_SHAPE}"`);
const poissonLoad = (o: Omit<PoissonLoadOptions, "windowS">) => poissonLoadIn({ ...o, windowS: WINDOW_S });
const floodLoad = FLOOD_CLIENT === "thread" ? (o: Omit<PoissonLoadOptions, "windowS">) => poissonLoadOnThread({ ...o, windowS: WINDOW_S }) : poissonLoad;
const log = (m: string) => console.log(`[tenant-load] ${m}`);
const ms = (x: number) => `${x.toFixed(1)} ms`;

const ok = (r: Run) => [...r.statuses].filter(([s]) => s >= 200 && s < 300).reduce((n, [, c]) => n + c, 0);
const total = (r: Run) => [...r.statuses.values()].reduce((a, b) => a + b, 0);
const summary = (r: Run) => `p50 ${ms(percentile(r.latencies, 50))}, p95 ${ms(percentile(r.latencies, 95))}, p99 ${ms(percentile(r.latencies, 99))}, ${(total(r) / r.seconds).toFixed(0)} req/s, statuses ${JSON.stringify(Object.fromEntries(r.statuses))}`;

/** Sleeps until `afterMs` past the next start of a limiter window (epoch multiples of `--window`). */
const untilNextWindow = (afterMs: number) => new Promise((r) => setTimeout(r, WINDOW_S * 1000 - (Date.now() % (WINDOW_S * 1000)) + afterMs));

/** A Poisson run's p95 in each of its first `WINDOWS` windows (requests counted by send time). */
const perWindowP95 = (r: Run) =>
  [...r.latenciesPerWindow!].sort(([a], [b]) => a - b).slice(0, WINDOWS).map(([, l], i) => `window ${i + 1} ${ms(percentile(l, 95))} (${l.length})`).join(", ");

/** One autocannon run; every response's latency and status recorded (autocannon's own summary has no p95). */
async function load(opts: { url: string; path: string; method?: "GET" | "POST"; cookies: string[]; clinic: string; connections: number; seconds: number; rate?: number; body?: string }): Promise<Run> {
  const run: Run = { latencies: [], statuses: new Map(), acceptedPerWindow: new Map(), seconds: opts.seconds };
  let next = 0;
  let finished!: (err?: Error) => void;
  const done = new Promise<void>((resolve, reject) => (finished = (err) => (err ? reject(err) : resolve())));
  const instance = autocannon({
    url: opts.url + opts.path,
    method: opts.method ?? "GET",
    connections: opts.connections,
    duration: opts.seconds,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
    headers: { "content-type": "application/json", "x-clinic-id": opts.clinic },
    body: opts.body,
    // Each request signs in as the next identifier (its session's patient), round robin over all of them.
    requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, cookie: opts.cookies[next++ % opts.cookies.length]! } }) }],
  }, (err) => finished(err ?? undefined));
  instance.on("response", (_client, statusCode, _bytes, responseTime) => {
    run.latencies.push(responseTime);
    count(run.statuses, statusCode);
    // Bucketed by when the request was sent (close to when the limiter decided), not when its answer came.
    if (statusCode >= 200 && statusCode < 300) count(run.acceptedPerWindow, Math.floor((Date.now() - responseTime) / (WINDOW_S * 1000)));
  });
  await done;
  return run;
}

/** CPU time per process (Linux /proc), to say where a phase's cores went. */
function cpuTicks(): Map<number, { label: string; ticks: number }> {
  const out = new Map<number, { label: string; ticks: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      const label = /next-server|server\.ts/.test(cmd) ? "app (server.ts)" : /localEndpointMain/.test(cmd) ? "store endpoint" : /tenantLoad/.test(cmd) ? "bench (its load generators)" : /pgbouncer/.test(cmd) ? "pgbouncer" : /postgres/.test(cmd) ? "postgres" : /redis-server/.test(cmd) ? "redis" : "other";
      out.set(Number(entry), { label, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended while we read it
    }
  }
  return out;
}

function cpuShare(before: Map<number, { label: string; ticks: number }>, after: Map<number, { label: string; ticks: number }>, seconds: number): string {
  const byLabel = new Map<string, number>();
  for (const [pid, a] of after) byLabel.set(a.label, (byLabel.get(a.label) ?? 0) + a.ticks - (before.get(pid)?.ticks ?? 0));
  return [...byLabel].sort(([, x], [, y]) => y - x).map(([label, ticks]) => `${label} ${((ticks / 100 / seconds) * 100).toFixed(0)} %`).join(", ");
}

async function signIn(url: string, clinicId: string, patientId: string): Promise<string> {
  const res = await fetch(`${url}/api/session`, { method: "POST", body: JSON.stringify({ clinicId, patientId }) });
  if (!res.ok) throw new Error(`sign-in as ${clinicId}/${patientId}: ${res.status}`);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

/** Where a victim request's time goes (the app's Server-Timing: limiter, routing, the route's work), medians. */
async function serverTimings(url: string, cookie: string, n: number, gapMs: number): Promise<string> {
  const timings: Record<string, number[]> = {};
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}/api/appointments`, { headers: { "x-clinic-id": "alpha", cookie } });
    await res.arrayBuffer();
    (timings.total ??= []).push(performance.now() - t0);
    for (const m of (res.headers.get("server-timing") ?? "").matchAll(/(\w+);dur=([\d.]+)/g)) (timings[m[1]!] ??= []).push(Number(m[2]));
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return Object.entries(timings).map(([k, v]) => `${k} ${ms(percentile(v, 50))}`).join(", ");
}

interface AppStats {
  statements: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}
const appStats = async (url: string, reset = false): Promise<AppStats> => (await (await fetch(`${url}/api/debug/stats${reset ? "?reset=1" : ""}`)).json()) as AppStats;
const statements = async (url: string) => (await appStats(url)).statements;
const loopDelay = (s: AppStats) => `event loop delay p50 ${ms(s.eventLoopDelayMs.p50)}, p99 ${ms(s.eventLoopDelayMs.p99)}, max ${ms(s.eventLoopDelayMs.max)}`;

async function main() {
  if (!findEngine()) throw new Error("no Pulumi CLI: run `npm run setup:pulumi` first");
  const { default: startServices } = await import("../../test/globalSetup");
  await startServices();
  const { openExampleStack, examplePatients, EXAMPLE_CLINICS } = await import("../../test/exampleStack");
  const { freePort } = await import("../../test/kvPort");
  const { uniqueName } = await import("../../test/postgres");
  log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} (1/5/15 min) before the run`);

  const generous = { requests: 1_000_000, window: `${WINDOW_S} s`, tenantRequests: 1_000_000 };
  const stack = await openExampleStack(uniqueName("bench-load"), {
    extraPatients: IDENTIFIERS,
    edit: (config) => (config["bloom:limits"] = { tiers: { standard: generous, professional: generous, enterprise: generous } }),
  });
  let app: RunningExampleApp | undefined;
  try {
    buildExampleApp();
    const env = exampleAppEnv(await stack.outputs(), { sessionSecret: randomBytes(24).toString("base64url"), testLogin: true, statementCounts: true });
    // --profile <dir>: the app's CPU profile (node --cpu-prof), written when it stops.
    app = await startExampleApp(env, await freePort(), { echo: process.env.BLOOM_BENCH_ECHO_APP === "1", nodeArgs: values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}`] : [] });
    const url = app.url;
    const victim = [await signIn(url, "alpha", EXAMPLE_CLINICS.alpha.patient)];
    const aggressors = await Promise.all(examplePatients("beta", IDENTIFIERS).slice(1).map((p) => signIn(url, "beta", p)));
    const booking = (clinic: "alpha" | "beta") => JSON.stringify({ paquete: EXAMPLE_CLINICS[clinic].paquete, terapeuta: EXAMPLE_CLINICS[clinic].therapist, branchId: EXAMPLE_CLINICS[clinic].branch, date: "2025-03-01", hour: "10:00" });

    // N+1 first, on small pages: one create, then the list with that one row; later the list again with many.
    // Averaged over 10 sequential requests each (a pool's fresh connection costs what it costs once).
    const perRequest = async (what: string, fn: () => Promise<number>) => {
      await fn();
      const before = await statements(url);
      let n = 0;
      for (let i = 0; i < 10; i++) n = await fn();
      return { what, perRequest: ((await statements(url)) - before) / 10, n };
    };
    const once = (path: string, method: "GET" | "POST", cookie: string, clinic: string, body?: string) => fetch(url + path, { method, body, headers: { "content-type": "application/json", "x-clinic-id": clinic, cookie } }).then((r) => { if (!r.ok) throw new Error(`${method} ${path}: ${r.status}`); return r.json(); });
    await once("/api/appointments", "GET", victim[0]!, "alpha"); // warm: the router's catalog lookup, the clients
    const createOne = await perRequest("create", async () => (await once("/api/appointments/create", "POST", victim[0]!, "alpha", booking("alpha")), 1));
    const listSmall = await perRequest("list", async () => ((await once("/api/appointments", "GET", victim[0]!, "alpha")) as { reservations: unknown[] }).reservations.length);

    log(`one list request at rest, medians of 40: ${await serverTimings(url, victim[0]!, 40, 0)}`);

    const results: Record<string, Run> = {};
    for (const clinic of ["alpha", "beta"] as const) {
      const cookies = clinic === "alpha" ? victim : aggressors;
      results[`${clinic} create`] = await load({ url, path: "/api/appointments/create", method: "POST", cookies, clinic, connections: 8, seconds: PHASE_S, body: booking(clinic) });
      results[`${clinic} list`] = await load({ url, path: "/api/appointments", cookies, clinic, connections: 8, seconds: PHASE_S });
    }
    for (const [name, r] of Object.entries(results)) log(`${name} alone (8 connections, ${PHASE_S} s): ${summary(r)}`);
    const listBig = await perRequest("list", async () => ((await once("/api/appointments", "GET", victim[0]!, "alpha")) as { reservations: unknown[] }).reservations.length);
    log(`statements per request: create ${createOne.perRequest}; list ${listSmall.perRequest} with ${listSmall.n} row(s) in the page, ${listBig.perRequest} with ${listBig.n} rows`);

    await appStats(url, true);
    const cpuBefore = cpuTicks();
    // The app's, not one clinic's: both clinics' lists at once (a clinic alone runs 2 requests at a time, the rest
    // queued behind them: BLOOM_APP_TENANT_IN_FLIGHT), 8 connections each.
    const [satAlpha, satBeta] = await Promise.all([
      load({ url, path: "/api/appointments", cookies: victim, clinic: "alpha", connections: 8, seconds: PHASE_S }),
      load({ url, path: "/api/appointments", cookies: aggressors, clinic: "beta", connections: 8, seconds: PHASE_S }),
    ]);
    const capacity = (ok(satAlpha) + ok(satBeta)) / PHASE_S; // answered 2xx: a refusal is no capacity
    log(`saturation (alpha and beta list, 8 connections each): ${capacity.toFixed(0)} req/s (alpha ${summary(satAlpha)}; beta ${summary(satBeta)})`);
    log(`  where the cores went (100 % = one core): ${cpuShare(cpuBefore, cpuTicks(), PHASE_S)}; app ${loopDelay(await appStats(url))}`);

    const victimRate = Math.max(5, Math.round(capacity * VICTIM_SHARE));
    const floodSeconds = WINDOWS * WINDOW_S;
    await appStats(url, true);
    const aloneCpu = cpuTicks();
    const baseline = await poissonLoad({ url, path: "/api/appointments", cookies: victim, clinic: "alpha", seconds: floodSeconds, rate: victimRate });
    log(`victim alone (alpha list, Poisson arrivals at ${victimRate} req/s, ${floodSeconds} s): ${summary(baseline)}; app ${loopDelay(await appStats(url))}`);
    log(`  where the cores went with the victim alone: ${cpuShare(aloneCpu, cpuTicks(), floodSeconds)}`);
    log(`  victim alone, p95 per ${WINDOW_S} s: ${perWindowP95(baseline)}`);

    // The aggressor's tenant-wide budget: `--budget-share` of saturation, a 25th of it at once; its identifiers' own
    // budgets do not bind (so the default burst, one identifier's budget, would be the whole total: set it).
    const budget = Math.max(10, Math.round(capacity * BUDGET_SHARE * WINDOW_S));
    const burst = Math.ceil(budget / TENANT_BURST_DIVISOR);
    await stack.setConfig("bloom:limits", { tiers: { standard: generous, professional: generous, enterprise: generous }, tenants: { beta: { requests: budget, window: `${WINDOW_S} s`, tenantRequests: budget, tenantBurst: burst } } });
    await new Promise((r) => setTimeout(r, 6_000)); // the app's budget cache (5 s)
    const floodRate = Math.ceil(capacity * FLOOD);
    if (WARMUP_S > 0) {
      // A first flood, not measured: the app's refusal path and the flood's own client warm (connections, JIT).
      const warm = await poissonLoad({ url, path: "/api/appointments", cookies: aggressors, clinic: "beta", seconds: WARMUP_S, rate: floodRate });
      log(`flood warm-up (${WARMUP_S} s, not measured): ${summary(warm)}`);
    }
    // Start on a window boundary, so the flood covers whole windows (the bucket refills meanwhile).
    await untilNextWindow(20);
    await appStats(url, true);
    const floodCpu = cpuTicks();
    // The app's event loop in each window (read and reset as the window ends): is the first window the app's or the bench's?
    const appPerWindow = (async () => {
      const out: string[] = [];
      for (let i = 0; i < WINDOWS; i++) {
        await untilNextWindow(10);
        out.push(`window ${i + 1} ${loopDelay(await appStats(url, true))}`);
      }
      return out.join("; ");
    })();
    const [flood, underFlood, probe] = await Promise.all([
      FLOOD_SHAPE === "poisson"
        ? floodLoad({ url, path: "/api/appointments", cookies: aggressors, clinic: "beta", seconds: floodSeconds, rate: floodRate })
        // One connection per identifier: a request waiting its clinic's turn holds its connection, and the offered rate holds.
        : load({ url, path: "/api/appointments", cookies: aggressors, clinic: "beta", connections: IDENTIFIERS, seconds: floodSeconds, rate: floodRate }),
      poissonLoad({ url, path: "/api/appointments", cookies: victim, clinic: "alpha", seconds: floodSeconds, rate: victimRate }),
      new Promise((r) => setTimeout(r, 2_000)).then(() => serverTimings(url, victim[0]!, 10, 500)),
    ]);
    // The tenant-wide cap is a token bucket (no per-window counter to read): what it admitted is what was answered 2xx,
    // by the window the request was sent in.
    const answered = [...flood.acceptedPerWindow].sort(([a], [b]) => a - b).map(([, n]) => n).slice(0, WINDOWS);
    const within = answered.length === WINDOWS && answered.every((n) => Math.abs(n - budget) <= budget * 0.05);
    log(`aggressor (beta list from ${IDENTIFIERS} identifiers, ${FLOOD_SHAPE === "poisson" ? `Poisson arrivals from ${FLOOD_CLIENT === "thread" ? "its own thread" : "the victim's event loop"}` : `autocannon over ${IDENTIFIERS} connections (each second's quota sent at its start)`}, offered ${floodRate} req/s = ${FLOOD} × saturation): ${summary(flood)}`);
    const refill = evenRefill(budget, WINDOW_S * 1000);
    log(`aggressor budget ${budget} per ${WINDOW_S} s (${BUDGET_SHARE} × saturation, paced: a bucket of ${burst}, refilled ${refill.tokens} every ${refill.everyMs} ms); admitted (2xx) per window by send time ${JSON.stringify(answered)} — ${within ? "within" : "NOT within"} ±5 %; 429 share ${(((flood.statuses.get(429) ?? 0) / Math.max(1, total(flood))) * 100).toFixed(1)} %`);
    log(`victim under the flood (alpha list, Poisson arrivals at ${victimRate} req/s): ${summary(underFlood)}; 429s ${underFlood.statuses.get(429) ?? 0}, non-2xx ${total(underFlood) - ok(underFlood)}`);
    log(`  victim p95 per budget window of the flood: ${perWindowP95(underFlood)}`);
    log(`  one victim request during the flood, medians of 10: ${probe}`);
    log(`  where the cores went during the flood: ${cpuShare(floodCpu, cpuTicks(), floodSeconds)}`);
    log(`  the app's event loop per window of the flood: ${await appPerWindow}`);
    log(`machine: load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} (1/5/15 min) after the run`);
    const ratio = percentile(underFlood.latencies, 95) / percentile(baseline.latencies, 95);
    console.log(`noisy-neighbour victim p95 ratio = ${ratio.toFixed(2)} (target <= 1.2)`);
  } finally {
    await app?.stop();
    await stack.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? `${err.stack}${err.cause ? `\ncause: ${String((err.cause as Error).stack ?? err.cause)}` : ""}` : err);
    process.exit(1);
  },
);
