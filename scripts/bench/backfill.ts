import path from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { applyPendingMigrations } from "../../infra/migrations/applyPendingMigrations";
import { loadMigrations } from "../../infra/migrations/migrationSource";
import { runBackfill } from "../../infra/tenancy/backfill";
import { ensureTestPostgres } from "../services/ensurePostgres";
import { withClient } from "../../infra/database/sql/withClient";
import { max, percentile } from "./stats";
import { startAppWriter } from "./appWriter";

/**
 * bench:backfill — N rows (default 5 M) of patients without clinic_id, backfilled while an app-like writer runs
 * (single-row updates and inserts on the same table, one after another), side by side with a one-statement UPDATE
 * on an identical copy. Reports each writer's max and p99 statement time. Targets: batched max <= 200 ms; the
 * one-statement run blocks >= 10x longer.
 */
const { values } = parseArgs({ options: { rows: { type: "string", default: "5000000" }, "batch-size": { type: "string", default: "1000" } } });
const rows = Number(values.rows);
const batchSize = Number(values["batch-size"]);
const pct = percentile;
const sql = (url: string, text: string, params: unknown[] = []) => withClient(url, (c) => c.query(text, params), "bloom-bench");

async function prepare(serverUrl: string, name: string): Promise<string> {
  await sql(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await sql(serverUrl, `CREATE DATABASE ${name}`);
  const url = Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
  const all = loadMigrations(path.join(REPO_ROOT, "prisma", "migrations"));
  await applyPendingMigrations(url, all.filter((m) => m.name <= "20260101000000_single_clinic"), { database: name });
  await sql(url, `INSERT INTO "patient" (id, name) SELECT 'p-' || lpad(g::text, 9, '0'), 'Patient ' || g FROM generate_series(1, $1::int) g`, [rows]);
  await applyPendingMigrations(url, all.filter((m) => m.name <= "20260201000100_phase0_clinic_indexes"), { database: name });
  await sql(url, "VACUUM ANALYZE patient");
  return url;
}

/** The app: update a random existing patient, insert a new one, repeat — timing every statement. */
function startWriter(url: string) {
  return startAppWriter(url, async (timed, i) => {
    await timed(`UPDATE "patient" SET phone = $2 WHERE id = $1`, [`p-${String(1 + Math.floor(Math.random() * rows)).padStart(9, "0")}`, String(i)]);
    await timed(`INSERT INTO "patient" (id, name) VALUES ($1, 'walk-in')`, [`w-${process.pid}-${i}`]);
  });
}

async function main() {
  const serverUrl = await ensureTestPostgres((m) => console.log(m));
  console.log(`preparing two copies of ${rows.toLocaleString("en")} patients without clinic_id…`);
  const batchedUrl = await prepare(serverUrl, "bench_backfill_batched");
  const singleUrl = await prepare(serverUrl, "bench_backfill_single");
  try {
    let writer = startWriter(batchedUrl);
    let t = performance.now();
    const res = await runBackfill({ url: batchedUrl, batchSize, tables: ["patient"], validate: false });
    const batchedSeconds = (performance.now() - t) / 1000;
    await writer.stop();
    const batched = writer.times;
    console.log(`batched (${batchSize}/batch): ${res.updated.patient!.toLocaleString("en")} rows in ${batchedSeconds.toFixed(1)} s, ${res.retries} lock retries; writer ${batched.length} statements, p99 ${pct(batched, 99).toFixed(1)} ms, max ${max(batched).toFixed(1)} ms`);

    writer = startWriter(singleUrl);
    await new Promise((r) => setTimeout(r, 200));
    t = performance.now();
    await sql(singleUrl, `UPDATE "patient" SET clinic_id = 'legacy' WHERE clinic_id IS NULL`);
    const singleSeconds = (performance.now() - t) / 1000;
    await new Promise((r) => setTimeout(r, 200));
    await writer.stop();
    const single = writer.times;
    console.log(`one statement: ${singleSeconds.toFixed(1)} s; writer ${single.length} statements, p99 ${pct(single, 99).toFixed(1)} ms, max ${max(single).toFixed(1)} ms`);
    console.log(`one-statement max / batched max = ${(max(single) / max(batched)).toFixed(1)}x (target >= 10x)`);
    const label = rows >= 1_000_000 ? `${rows / 1_000_000}M` : `${rows / 1000}k`;
    console.log(`backfill-${label} max writer wait = ${max(batched).toFixed(0)} ms (target <= 200 ms)`);
  } finally {
    await sql(serverUrl, "DROP DATABASE IF EXISTS bench_backfill_batched WITH (FORCE)");
    await sql(serverUrl, "DROP DATABASE IF EXISTS bench_backfill_single WITH (FORCE)");
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
