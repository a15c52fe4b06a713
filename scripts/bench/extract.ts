import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { withClient } from "../../infra/database/sql/withClient";
import { quoteIdent } from "../../infra/naming";
import { foreignKeyLevels } from "../../infra/tenancy/move/tableOrder";
import { copyTenantTable } from "../../infra/tenancy/move/tableCopy";
import { runTenantMove } from "../../infra/tenancy/move/tenantMove";
import { bulkLoadPlan, relaxForBulkLoad, restoreAfterBulkLoad } from "../../infra/tenancy/move/bulkLoad";
import { tenantDataTables } from "../../infra/tenancy/tenantPolicies";
import { ensureTestPostgres } from "../services/ensurePostgres";
import { pgDumpRestore } from "./pgDump";
import { DEFAULT_MAX_IMPACT } from "../../infra/tenancy/move/onlineMove";
import { parseMaxImpact } from "../runbook/tenantCommands";
import { runOnlineBench } from "./extractOnline";
import { BIG, benchSql, buildBenchPool, freshDatabase, resetCatalog, seconds } from "./extractPool";

/**
 * bench:extract — one tenant of >= 1 M rows across the 7 tenant tables (foreign keys between them), in a pool of
 * `--tenants` such tenants (default 5: 5 M rows). Timed in one run, each into its own empty migrated database:
 *  1. `bloom tenants extract`'s data plane: fence, copy (binary COPY, FK levels), verify (counts + checksums), cutover;
 *  2. a raw binary COPY pipe of the same rows, table by table in FK order (no fence, no verify, no catalog);
 *  3. pg_dump | pg_restore of a database holding only this tenant's rows (pg_dump cannot filter rows).
 * Headline: `extract-1M vs raw-copy = <ratio> (target <= 1.3)`; the write freeze on the line before; the ratio to
 * pg_dump|pg_restore (goal: extract >= 1.5x faster). The pool is built once and kept (`--rebuild` rebuilds).
 */
const { values } = parseArgs({ options: { rows: { type: "string", default: "1000000" }, tenants: { type: "string", default: "5" }, rebuild: { type: "boolean", default: false }, online: { type: "boolean", default: false }, "copy-rate": { type: "string" }, rounds: { type: "string", default: "10" }, "max-impact": { type: "string" } } });
const ROWS = Number(values.rows);
const TENANTS = Number(values.tenants);
const sql = benchSql;
const buildPool = (serverUrl: string) => buildBenchPool(serverUrl, { tenants: TENANTS, rows: ROWS, rebuild: values.rebuild! });

/**
 * The baseline: a binary COPY pipe per table, in FK order, one table at a time. `relaxed`: the same pipe into a
 * target whose foreign keys and fence trigger are off during the load (what extract does to a new database), so
 * the two lines show what the relaxation buys and what fence, parallelism and verification cost.
 */
async function rawCopy(sourceUrl: string, targetUrl: string, relaxed: boolean): Promise<number> {
  return withClient(sourceUrl, (s) => withClient(targetUrl, async (d) => {
    await d.query(`INSERT INTO "clinic" (id, name, tier) VALUES ('${BIG}', 'Clinic', 'enterprise')`);
    const tables = await tenantDataTables(s);
    const plan = relaxed ? await bulkLoadPlan(d, tables) : undefined;
    if (plan) await relaxForBulkLoad(d, plan);
    let rows = 0;
    for (const level of await foreignKeyLevels(s, tables)) for (const t of level) rows += (await copyTenantTable(s, d, t, BIG)).rows;
    if (plan) await restoreAfterBulkLoad(d, plan);
    return rows;
  }));
}

async function main() {
  if (values.online) {
    const rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 2) throw new Error(`--rounds must be an integer >= 2 (each round an extract and a return, the arms alternating by round); got "${values.rounds}"`);
    const maxImpact = parseMaxImpact(values["max-impact"]) ?? DEFAULT_MAX_IMPACT;
    return runOnlineBench({ tenants: TENANTS, rows: ROWS, rebuild: values.rebuild! }, { copyRateMBps: values["copy-rate"] ? Number(values["copy-rate"]) : undefined, rounds, maxImpact });
  }
  const serverUrl = await ensureTestPostgres((m) => console.log(m));
  const poolUrl = await buildPool(serverUrl);
  const tenantRows = Number((await sql(poolUrl, (await withClient(poolUrl, tenantDataTables)).map((t) => `SELECT count(*) AS n FROM ${quoteIdent(t)} WHERE clinic_id = '${BIG}'`).join(" UNION ALL "))).rows.reduce((n, r) => n + Number(r.n), 0));
  const poolRows = Number((await sql(poolUrl, (await withClient(poolUrl, tenantDataTables)).map((t) => `SELECT count(*) AS n FROM ${quoteIdent(t)}`).join(" UNION ALL "))).rows.reduce((n, r) => n + Number(r.n), 0));
  console.log(`pool: ${poolRows.toLocaleString("en")} rows; tenant ${BIG}: ${tenantRows.toLocaleString("en")} rows in 7 tables`);
  await resetCatalog(poolUrl, [BIG]);

  let t0 = performance.now();
  const moveTarget = await freshDatabase(serverUrl, "bench_extract_move");
  console.log(`target prepared (migrations; stands in for the tenant stack's up, which the e2e suite times): ${seconds(performance.now() - t0)} s`);
  const rawTarget = await freshDatabase(serverUrl, "bench_extract_raw");
  const relaxedTarget = await freshDatabase(serverUrl, "bench_extract_relaxed");
  const restoreTarget = await freshDatabase(serverUrl, "bench_extract_restore", false);

  t0 = performance.now();
  const summary = await runTenantMove({
    tenantId: BIG, direction: "extract", poolUrl, graceMs: 7 * 86_400_000,
    dedicated: { kind: "dedicated", stack: "bench", project: "bench" },
    hooks: { declare: async () => undefined, provisionDedicated: async () => moveTarget, dedicatedUrl: async () => moveTarget },
    log: (l) => console.log(`  ${l}`),
  });
  const extractMs = performance.now() - t0;
  console.log(`extract: ${summary.rows.toLocaleString("en")} rows, ${(summary.bytes / 1e6).toFixed(0)} MB in ${seconds(extractMs)} s (copy ${seconds(summary.copyMs)} s, verify ${seconds(summary.verifyMs)} s)`);

  t0 = performance.now();
  const rawRows = await rawCopy(poolUrl, rawTarget, false);
  const rawMs = performance.now() - t0;
  console.log(`raw binary COPY pipe (every check in place): ${rawRows.toLocaleString("en")} rows in ${seconds(rawMs)} s`);
  if (rawRows !== summary.rows) throw new Error(`row counts differ: extract ${summary.rows}, raw ${rawRows}`);
  t0 = performance.now();
  await rawCopy(poolUrl, relaxedTarget, true);
  const relaxedMs = performance.now() - t0;
  console.log(`raw binary COPY pipe into a relaxed target (foreign keys re-added after, fence trigger off): ${seconds(relaxedMs)} s`);

  // pg_dump's best case: a database that holds only this tenant (the move's target).
  t0 = performance.now();
  await pgDumpRestore(moveTarget, restoreTarget);
  const dumpMs = performance.now() - t0;
  console.log(`pg_dump | pg_restore of a database holding only ${BIG}: ${seconds(dumpMs)} s`);

  console.log(`write freeze = ${seconds(summary.freezeMs)} s (fence → cutover)`);
  console.log(`extract vs raw-copy into a relaxed target = ${(extractMs / relaxedMs).toFixed(2)}`);
  console.log(`extract-1M vs raw-copy = ${(extractMs / rawMs).toFixed(2)} (target <= 1.3); pg_dump|pg_restore / extract = ${(dumpMs / extractMs).toFixed(2)}x (goal >= 1.5)`);
  for (const name of ["bench_extract_move", "bench_extract_raw", "bench_extract_relaxed", "bench_extract_restore"]) await sql(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
