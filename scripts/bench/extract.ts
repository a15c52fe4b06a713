import { spawn } from "node:child_process";
import path from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { withClient } from "../../infra/database/sql/withClient";
import { applyPendingMigrations } from "../../infra/migrations/applyPendingMigrations";
import { loadMigrations } from "../../infra/migrations/migrationSource";
import { quoteIdent } from "../../infra/naming";
import { foreignKeyLevels } from "../../infra/tenancy/move/tableOrder";
import { copyTenantTable } from "../../infra/tenancy/move/tableCopy";
import { runTenantMove } from "../../infra/tenancy/move/tenantMove";
import { bulkLoadPlan, relaxForBulkLoad, restoreAfterBulkLoad } from "../../infra/tenancy/move/bulkLoad";
import { upsertTenantRecord } from "../../infra/tenancy/tenantCatalog";
import { ensureFenceTriggers } from "../../infra/tenancy/tenantFence";
import { tenantDataTables } from "../../infra/tenancy/tenantPolicies";
import { ensureTestPostgres } from "../services/ensurePostgres";

/**
 * bench:extract — one tenant of >= 1 M rows across the 7 tenant tables (foreign keys between them), in a pool of
 * `--tenants` such tenants (default 5: 5 M rows). Timed in one run, each into its own empty migrated database:
 *  1. `bloom tenants extract`'s data plane: fence, copy (binary COPY, FK levels), verify (counts + checksums), cutover;
 *  2. a raw binary COPY pipe of the same rows, table by table in FK order (no fence, no verify, no catalog);
 *  3. pg_dump | pg_restore of a database holding only this tenant's rows (pg_dump cannot filter rows).
 * Headline: `extract-1M vs raw-copy = <ratio> (target <= 1.3)`; the write freeze on the line before; the ratio to
 * pg_dump|pg_restore (goal: extract >= 1.5x faster). The pool is built once and kept (`--rebuild` rebuilds).
 */
const { values } = parseArgs({ options: { rows: { type: "string", default: "1000000" }, tenants: { type: "string", default: "5" }, rebuild: { type: "boolean", default: false } } });
const ROWS = Number(values.rows);
const TENANTS = Number(values.tenants);
const BIG = "tenant-0";
const sql = (url: string, text: string, params: unknown[] = []) => withClient(url, (c) => c.query(text, params), "bloom-bench");
const dbUrl = (serverUrl: string, name: string) => Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
const seconds = (ms: number) => (ms / 1000).toFixed(2);

async function freshDatabase(serverUrl: string, name: string, migrate = true): Promise<string> {
  await sql(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await sql(serverUrl, `CREATE DATABASE ${name}`);
  const url = dbUrl(serverUrl, name);
  if (migrate) {
    await applyPendingMigrations(url, loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), { database: name });
    await withClient(url, ensureFenceTriggers); // as the platform's boundary step does after each deploy
  }
  return url;
}

/** One tenant's rows: ~1% users, 0.1% branches, 0.5% therapists, 30% patients, 0.1% packages, 40% appointments, the rest payments. */
function tenantRowsSql(t: string, n: number): string[] {
  const u = Math.max(1, Math.floor(n / 100)), b = Math.max(1, Math.floor(n / 1000)), th = Math.max(1, Math.floor(n / 200));
  const p = Math.floor((3 * n) / 10), pk = Math.max(1, Math.floor(n / 1000)), a = Math.floor((4 * n) / 10);
  const pay = Math.max(1, n - (u + b + th + p + pk + a));
  return [
    `INSERT INTO "clinic" (id, name, tier) VALUES ('${t}', 'Clinic ${t}', 'enterprise') ON CONFLICT DO NOTHING`,
    `INSERT INTO "user" (id, email, name, password_hash, clinic_id) SELECT '${t}-u' || i, '${t}-u' || i || '@x', 'User ' || i, 'x', '${t}' FROM generate_series(1, ${u}) i`,
    `INSERT INTO "branch" (id, name, address, clinic_id) SELECT '${t}-b' || i, 'Branch ' || i, 'Street ' || i, '${t}' FROM generate_series(1, ${b}) i`,
    `INSERT INTO "therapist" (id, name, email, branch_id, clinic_id) SELECT '${t}-t' || i, 'Therapist ' || i, 't' || i || '@x', '${t}-b' || (1 + i % ${b}), '${t}' FROM generate_series(1, ${th}) i`,
    `INSERT INTO "patient" (id, name, email, phone, clinic_id) SELECT '${t}-p' || i, 'Patient ' || i, 'p' || i || '@x', '+34' || (600000000 + i), '${t}' FROM generate_series(1, ${p}) i`,
    `INSERT INTO "paquete" (id, name, sessions, price_cents, clinic_id) SELECT '${t}-k' || i, 'Package ' || i, 1 + i % 10, 1000 * i, '${t}' FROM generate_series(1, ${pk}) i`,
    `INSERT INTO "appointment" (id, patient_id, therapist_id, branch_id, paquete_id, date, hour, status, clinic_id)
       SELECT '${t}-a' || i, '${t}-p' || (1 + i % ${p}), '${t}-t' || (1 + i % ${th}), '${t}-b' || (1 + (i % ${th}) % ${b}), CASE WHEN i % 3 = 0 THEN '${t}-k' || (1 + i % ${pk}) END,
              date '2026-01-01' + (i % 365), lpad((8 + i % 10)::text, 2, '0') || ':00', 'booked', '${t}' FROM generate_series(1, ${a}) i`,
    `INSERT INTO "payment" (id, appointment_id, patient_id, amount_cents, stripe_id, clinic_id)
       SELECT '${t}-pay' || i, '${t}-a' || (1 + i % ${a}), '${t}-p' || (1 + (i % ${a}) % ${p}), 500 + i % 10000, 'pi_' || md5(i::text), '${t}' FROM generate_series(1, ${pay}) i`,
  ];
}

async function buildPool(serverUrl: string): Promise<string> {
  const name = "bench_extract_pool";
  const url = dbUrl(serverUrl, name);
  const marker = `${TENANTS}x${ROWS}`;
  const existing = await sql(serverUrl, `SELECT 1 FROM pg_database WHERE datname = $1`, [name]);
  if (!values.rebuild && existing.rowCount) {
    const built = await sql(url, `SELECT obj_description('public.patient'::regclass) AS m`).catch(() => undefined);
    if (built?.rows[0]?.m === marker) {
      // A kept pool gets the migrations added since it was built (source and target must match).
      await applyPendingMigrations(url, loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), { database: name });
      return url;
    }
  }
  console.log(`building the pool: ${TENANTS} tenants x ${ROWS.toLocaleString("en")} rows (kept for later runs)…`);
  await freshDatabase(serverUrl, name);
  for (let i = 0; i < TENANTS; i++) {
    const t0 = performance.now();
    await withClient(url, async (c) => {
      for (const s of tenantRowsSql(`tenant-${i}`, ROWS)) await c.query(s);
    });
    console.log(`  tenant-${i}: ${seconds(performance.now() - t0)} s`);
  }
  await sql(url, "VACUUM ANALYZE");
  await sql(url, `COMMENT ON TABLE "public"."patient" IS '${marker}'`);
  return url;
}

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

function pgDumpRestore(sourceUrl: string, targetUrl: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Connection strings through the environment (PG* variables), never on a command line.
    const env = (u: string) => { const x = new URL(u); return { ...process.env, PGHOST: x.hostname, PGPORT: x.port || "5432", PGUSER: decodeURIComponent(x.username), PGPASSWORD: decodeURIComponent(x.password), PGDATABASE: x.pathname.slice(1) }; };
    const dump = spawn("pg_dump", ["-Fc", "--no-owner", "--no-privileges"], { env: env(sourceUrl), stdio: ["ignore", "pipe", "inherit"] });
    const restore = spawn("pg_restore", ["--no-owner", "--no-privileges", "-d", new URL(targetUrl).pathname.slice(1)], { env: env(targetUrl), stdio: ["pipe", "inherit", "inherit"] });
    dump.stdout.pipe(restore.stdin);
    let done = 0;
    const finish = (what: string) => (code: number | null) => {
      if (code !== 0) return reject(new Error(`${what} exited ${code}`));
      if (++done === 2) resolve();
    };
    dump.on("exit", finish("pg_dump"));
    restore.on("exit", finish("pg_restore"));
  });
}

async function main() {
  const serverUrl = await ensureTestPostgres((m) => console.log(m));
  const poolUrl = await buildPool(serverUrl);
  const tenantRows = Number((await sql(poolUrl, (await withClient(poolUrl, tenantDataTables)).map((t) => `SELECT count(*) AS n FROM ${quoteIdent(t)} WHERE clinic_id = '${BIG}'`).join(" UNION ALL "))).rows.reduce((n, r) => n + Number(r.n), 0));
  const poolRows = Number((await sql(poolUrl, (await withClient(poolUrl, tenantDataTables)).map((t) => `SELECT count(*) AS n FROM ${quoteIdent(t)}`).join(" UNION ALL "))).rows.reduce((n, r) => n + Number(r.n), 0));
  console.log(`pool: ${poolRows.toLocaleString("en")} rows; tenant ${BIG}: ${tenantRows.toLocaleString("en")} rows in 7 tables`);
  // The catalog as the platform keeps it; a previous run's move is reset.
  await sql(poolUrl, `UPDATE bloom_platform.tenants SET isolation = 'pooled', location = '{"kind":"pool"}', move = NULL, move_state = 'settled', pending_purge = NULL WHERE id = $1`, [BIG]);
  await sql(poolUrl, `DELETE FROM bloom_platform.tenant_fences`);
  await upsertTenantRecord(poolUrl, { id: BIG, name: BIG, tier: "enterprise", isolation: "pooled", location: { kind: "pool" } });

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
    hooks: { declare: async () => undefined, dedicatedUrl: async () => moveTarget },
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
