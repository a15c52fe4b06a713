import { performance } from "node:perf_hooks";
import { ensureAppRole, withCredentials } from "../../infra/database/sql/appRole";
import { serverAdminUrl } from "../../infra/database/local/localPostgresBackend";
import { runOnlineTenantMove } from "../../infra/tenancy/move/onlineMove";
import { runTenantMove } from "../../infra/tenancy/move/tenantMove";
import { TenantWriter, writerRows } from "../../test/tenantWriter";
import { ensureLogicalTestPostgres } from "../services/ensurePostgres";
import { BIG, benchSql as sql, buildBenchPool, freshDatabase, resetCatalog, seconds, type PoolSize } from "./extractPool";
import { percentile } from "./stats";

/**
 * bench:extract -- --online: the same tenant (1 M rows in a pool of 5 M) moved online while an app-like writer
 * keeps writing for it (60 writes/s: insert/update/delete) and two other tenants write as well, on a server the
 * harness runs with wal_level = logical. In the same run: the copy mode's move of the same tenant (no writer), for
 * its total time and freeze. Lines: both totals (goal: online ≤ 3× copy), the copy mode's freeze, the other
 * tenants' write p95 during the online move vs before it (goal ≤ 1.5×); headline
 * `online-extract freeze = <s> s (target <= 0.25 s)`. `--copy-rate <MB/s>` throttles the online move's initial copy.
 */
const APP_ROLE = "bench_extract_app";
const PHASE_MS = 10_000;

export async function runOnlineBench(size: PoolSize, copyRateMBps?: number): Promise<void> {
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

  const target = await freshDatabase(serverUrl, "bench_extract_online");
  await ensureAppRole(target, APP_ROLE, app.password);
  const targetAppUrl = withCredentials(target, APP_ROLE, app.password);
  const writers = [BIG, ...others].map((t, i) => new TenantWriter(t, { poolAppUrl, dedicatedAppUrl: targetAppUrl, writesPerSecond: 60, seed: i + 7 }).start());
  await new Promise((r) => setTimeout(r, PHASE_MS));
  const before = others.flatMap((_, i) => writers[i + 1]!.takeLatencies());
  t0 = performance.now();
  const online = await runOnlineTenantMove({
    tenantId: BIG, direction: "extract", poolUrl, graceMs: 0, dedicated: { kind: "dedicated", stack: "bench", project: "bench" },
    hooks: { declare: async () => undefined, provisionDedicated: async () => target, dedicatedUrl: async () => target },
    adminUrl: async (db) => serverAdminUrl(serverUrl, db),
    copyRateMBps,
    log: (l) => console.log(`  ${l}`),
  });
  const onlineMs = performance.now() - t0;
  const during = others.flatMap((_, i) => writers[i + 1]!.takeLatencies());
  const stats = await Promise.all(writers.map((w) => w.stop()));
  const rows = await writerRows(target, BIG);
  const lost = [...writers[0]!.model].filter(([id, name]) => rows.get(id) !== name).length;
  const extra = [...rows.keys()].filter((id) => !writers[0]!.model.has(id)).length;
  console.log(`online${copyRateMBps ? ` (initial copy at <= ${copyRateMBps} MB/s)` : ""}: ${online.rows.toLocaleString("en")} rows in ${seconds(onlineMs)} s (streaming ${seconds(online.streamMs)} s while writing; confirm ${seconds(online.confirmMs)} s, verify ${seconds(online.verifyMs)} s under the fence)`);
  console.log(`writer of ${BIG}: ${stats[0]!.acknowledged} writes acknowledged (${stats[0]!.rate.toFixed(0)}/s), ${stats[0]!.refused} refused during the freeze and retried; at the new home: ${lost} missing or different, ${extra} extra`);
  console.log(`other tenants' write p95: before ${percentile(before, 95).toFixed(1)} ms, during the move ${percentile(during, 95).toFixed(1)} ms = ${(percentile(during, 95) / Math.max(percentile(before, 95), 0.001)).toFixed(2)}x (goal <= 1.5)`);
  console.log(`online total / copy-mode total = ${(onlineMs / copyMs).toFixed(2)} (goal <= 3); copy-mode freeze = ${seconds(copy.freezeMs)} s`);
  console.log(`online-extract freeze = ${seconds(online.freezeMs)} s (target <= 0.25 s)`);
  await resetCatalog(poolUrl, [BIG, ...others]);
  await sql(poolUrl, `DELETE FROM "user" WHERE id LIKE 'w-%'`);
  await sql(serverUrl, `DROP DATABASE IF EXISTS bench_extract_online WITH (FORCE)`);
  if (lost || extra) throw new Error(`the online move lost ${lost} / added ${extra} of the writer's acknowledged rows`);
}
