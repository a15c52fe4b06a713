import { performance } from "node:perf_hooks";
import { ensureAppRole, withCredentials } from "../../infra/database/sql/appRole";
import { serverAdminUrl } from "../../infra/database/local/localPostgresBackend";
import { runOnlineTenantMove, type OnlineMoveSummary } from "../../infra/tenancy/move/onlineMove";
import { runTenantMove } from "../../infra/tenancy/move/tenantMove";
import { TenantWriter, writerRows } from "../../test/tenantWriter";
import { ensureLogicalTestPostgres } from "../services/ensurePostgres";
import { BIG, benchSql as sql, buildBenchPool, freshDatabase, resetCatalog, seconds, type PoolSize } from "./extractPool";
import { median, percentile } from "./stats";

/**
 * bench:extract -- --online: the same tenant (1 M rows in a pool of 5 M) moved online while an app-like writer
 * keeps writing for it (60 writes/s: insert/update/delete) and two other tenants write as well, on a server the
 * harness runs with wal_level = logical. In the same run: the copy mode's move of the same tenant (no writer), for
 * its total time and freeze. Then `--rounds` (default 6) rounds of an online extract and return, the old copy
 * purged after each, the arms alternating by round: the fence verifying only the rows changed since the copy,
 * which was verified as it loaded (now), or every row (verifyEveryRowUnderFence: before issue 21). Lines: both
 * totals (goal: online ≤ 3× copy), the copy mode's freeze, the other tenants' write p95 during the first online
 * extract vs before it (goal ≤ 1.5×), each arm's freeze median and max; headline
 * `online-move freeze max = <s> s (target <= 0.25 s)` (the max over the current arm's moves, both directions).
 * `--copy-rate <MB/s>` throttles the online moves' initial copy.
 */
const APP_ROLE = "bench_extract_app";
const PHASE_MS = 10_000;

export async function runOnlineBench(size: PoolSize, opts: { copyRateMBps?: number; rounds: number; maxImpact: number }): Promise<void> {
  const { copyRateMBps, rounds, maxImpact } = opts;
  const serverUrl = await ensureLogicalTestPostgres((m) => console.log(m));
  const poolUrl = await buildBenchPool(serverUrl, size);
  const app = await ensureAppRole(poolUrl, APP_ROLE);
  const poolAppUrl = withCredentials(poolUrl, APP_ROLE, app.password);
  const others = ["tenant-1", "tenant-2"];
  await resetCatalog(poolUrl, [BIG, ...others]);

  // Copy mode first, as the reference (no writer: its freeze is the whole copy).
  const copyTarget = await freshDatabase(serverUrl, "bench_extract_copy");
  let t0 = performance.now();
  const copy = await runTenantMove({ tenantId: BIG, direction: "extract", poolUrl, graceMs: 0, dedicated: { kind: "dedicated", stack: "bench", project: "bench" },
    hooks: { declare: async () => undefined, provisionDedicated: async () => copyTarget, dedicatedUrl: async () => copyTarget } });
  const copyMs = performance.now() - t0;
  console.log(`copy mode: ${copy.rows.toLocaleString("en")} rows in ${seconds(copyMs)} s, freeze ${seconds(copy.freezeMs)} s`);
  await sql(serverUrl, `DROP DATABASE IF EXISTS bench_extract_copy WITH (FORCE)`);
  await resetCatalog(poolUrl, [BIG, ...others]);

  // Rounds of an online extract of the same tenant into a new database (the pool reset after each), the arms
  // alternating by round: the fence verifying only the rows changed since the copy, which was verified as it
  // loaded (now), or every row (before issue 21). Each round's writers start afresh, with their own models.
  const arms = { now: [] as OnlineMoveSummary[], before: [] as OnlineMoveSummary[] };
  const before: number[] = [];
  const during = { now: [] as number[], before: [] as number[] };
  let onlineMs = 0;
  let writes = { acknowledged: 0, refused: 0, lost: 0, extra: 0 };
  for (let round = 0; round < rounds; round++) {
    const arm = round % 2 === 0 ? "now" : "before";
    const target = await freshDatabase(serverUrl, "bench_extract_online");
    await ensureAppRole(target, APP_ROLE, app.password);
    const targetAppUrl = withCredentials(target, APP_ROLE, app.password);
    const writers = [BIG, ...others].map((t, i) => new TenantWriter(t, { poolAppUrl, dedicatedAppUrl: targetAppUrl, writesPerSecond: 60, seed: 7 + i + 10 * round }).start());
    await new Promise((r) => setTimeout(r, round === 0 ? PHASE_MS : PHASE_MS / 3));
    before.push(...others.flatMap((_, i) => writers[i + 1]!.takeLatencies()));
    const t0 = performance.now();
    const moved = await runOnlineTenantMove({
      tenantId: BIG, direction: "extract", poolUrl, graceMs: 0, dedicated: { kind: "dedicated", stack: "bench", project: "bench" },
      hooks: { declare: async () => undefined, provisionDedicated: async () => target, dedicatedUrl: async () => target },
      adminUrl: async (db) => serverAdminUrl(serverUrl, db),
      copyRateMBps, verifyEveryRowUnderFence: arm === "before", maxImpact: arm === "before" ? 0 : maxImpact,
      log: (l) => { if (round === 0 && !/^copied /.test(l)) console.log(`  ${l}`); },
    });
    const ms = performance.now() - t0;
    if (round === 0) onlineMs = ms;
    during[arm].push(...others.flatMap((_, i) => writers[i + 1]!.takeLatencies()));
    const stats = await Promise.all(writers.map((w) => w.stop()));
    const rows = await writerRows(target, BIG);
    writes = {
      acknowledged: writes.acknowledged + stats[0]!.acknowledged, refused: writes.refused + stats[0]!.refused,
      lost: writes.lost + [...writers[0]!.model].filter(([id, name]) => rows.get(id) !== name).length,
      extra: writes.extra + [...rows.keys()].filter((id) => !writers[0]!.model.has(id)).length,
    };
    arms[arm].push(moved);
    const steps = Object.entries(moved.freezeSteps).map(([s, d]) => `${s} ${d} ms`).join(", ");
    console.log(`round ${round + 1} (${arm}): ${moved.rows.toLocaleString("en")} rows in ${seconds(ms)} s, streaming ${seconds(moved.streamMs)} s; freeze ${seconds(moved.freezeMs)} s (${steps})`);
    await resetCatalog(poolUrl, [BIG, ...others]);
    await sql(poolUrl, `DELETE FROM "user" WHERE id LIKE 'w-%'`);
  }
  await sql(serverUrl, `DROP DATABASE IF EXISTS bench_extract_online WITH (FORCE)`);
  const freezes = (arm: keyof typeof arms) => arms[arm].map((m) => m.freezeMs);
  const describe = (arm: keyof typeof arms) => `median ${seconds(median(freezes(arm)))} s, max ${seconds(Math.max(...freezes(arm)))} s over ${freezes(arm).length} moves (verify median ${seconds(median(arms[arm].map((m) => m.verifyMs)))} s)`;
  console.log(`writer of ${BIG}: ${writes.acknowledged} writes acknowledged over ${rounds} moves, ${writes.refused} refused during the freezes and retried; at the new homes: ${writes.lost} missing or different, ${writes.extra} extra`);
  const p95 = (xs: number[]) => percentile(xs, 95);
  const impact = (arm: keyof typeof arms) => p95(during[arm]) / Math.max(p95(before), 0.001);
  console.log(`other tenants' write p95 before the moves: ${p95(before).toFixed(1)} ms; during the moves without the impact throttle (before): ${p95(during.before).toFixed(1)} ms = ${impact("before").toFixed(2)}x`);
  console.log(`other tenants' write p95 during the moves with the impact throttle at ${maxImpact}x (now): ${p95(during.now).toFixed(1)} ms = ${impact("now").toFixed(2)}x (goal <= 1.5)`);
  console.log(`online total / copy-mode total = ${(onlineMs / copyMs).toFixed(2)} (goal <= 3; the first online extract); copy-mode freeze = ${seconds(copy.freezeMs)} s`);
  console.log(`freeze, every row verified under the fence (before): ${describe("before")}`);
  console.log(`freeze, only rows changed since the verified copy (now): ${describe("now")}`);
  console.log(`freeze now / before: max ${(Math.max(...freezes("now")) / Math.max(...freezes("before"))).toFixed(2)}, median ${(median(freezes("now")) / median(freezes("before"))).toFixed(2)}`);
  console.log(`online-extract freeze max = ${seconds(Math.max(...freezes("now")))} s (target <= 0.25 s)`);
  if (writes.lost || writes.extra) throw new Error(`the online moves lost ${writes.lost} / added ${writes.extra} of the writer's acknowledged rows`);
}
