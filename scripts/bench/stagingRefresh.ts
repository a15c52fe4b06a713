import { randomBytes } from "node:crypto";
import path from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { LocalPostgresBackend } from "../../infra/database/local/localPostgresBackend";
import { withClient } from "../../infra/database/sql/withClient";
import { applyPendingMigrations } from "../../infra/migrations/applyPendingMigrations";
import { loadMigrations } from "../../infra/migrations/migrationSource";
import { localBranchDatabase } from "../../infra/naming";
import { refreshStagingCopy, type DatabaseAt } from "../../infra/staging/refresh";
import { ensureFenceTriggers } from "../../infra/tenancy/tenantFence";
import { prodLikeTenantSql } from "../../test/stagingFixtures";
import { ensureTestPostgres } from "../services/ensurePostgres";
import { pgDumpRestore } from "./pgDump";
import { seconds } from "./extractPool";
import { median } from "./stats";

/**
 * bench:staging-refresh — the local staging refresh of `--rows` rows (default 1 M: `--tenants` 4 clinics of 250 k
 * across the 7 tenant tables), masked in the COPY stream, keys and foreign keys rebuilt, verified by keyed hashes
 * against the source, against the baseline measured in the same run: pg_dump | pg_restore of the same source
 * database into an empty one (no masking, no verification). Headline:
 * `staging-refresh-1M / pg_dump|pg_restore = <x> (target <= 1.5)`, the median of `--runs` (5) interleaved pairs. The
 * source is built once and kept (`--rebuild`).
 */
const { values } = parseArgs({ options: { rows: { type: "string", default: "1000000" }, tenants: { type: "string", default: "4" }, runs: { type: "string", default: "5" }, rebuild: { type: "boolean", default: false } } });
const ROWS = Number(values.rows);
const TENANTS = Number(values.tenants);
const RUNS = Number(values.runs);

async function pool(backend: LocalPostgresBackend, project: string, keep = false): Promise<DatabaseAt & { url: string; kept: boolean }> {
  const marker = `${TENANTS}x${ROWS}`;
  if (keep) {
    const migrator = await backend.ensureRole(project, "main", "bloom_migrator").catch(() => undefined);
    const url = migrator && await backend.connectionUri({ projectId: project, branchId: "main", database: "bloom", role: migrator.name, password: migrator.password });
    const built = url ? await withClient(url, (c) => c.query(`SELECT obj_description('public.patient'::regclass) AS m`)).catch(() => undefined) : undefined;
    if (migrator && url && built?.rows[0]?.m === marker) return { backend, projectId: project, branchId: "main", database: "bloom", role: migrator.name, password: migrator.password, url, kept: true };
  }
  await backend.deleteProject(project);
  await backend.ensureProject({ name: project });
  const migrator = await backend.ensureRole(project, "main", "bloom_migrator");
  await backend.ensureDatabase(project, "main", "bloom", migrator.name);
  const url = await backend.connectionUri({ projectId: project, branchId: "main", database: "bloom", role: migrator.name, password: migrator.password });
  await applyPendingMigrations(url, loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), { database: project });
  await withClient(url, ensureFenceTriggers);
  return { backend, projectId: project, branchId: "main", database: "bloom", role: migrator.name, password: migrator.password, url, kept: false };
}

async function main() {
  const serverUrl = await ensureTestPostgres((m) => console.log(m));
  const backend = new LocalPostgresBackend(serverUrl);
  const tenants = Array.from({ length: TENANTS }, (_, i) => `clinic-${i}`);
  try {
    const prod = await pool(backend, "bench-stg-prod", !values.rebuild);
    const staging = await pool(backend, "bench-stg-staging");
    let t0 = performance.now();
    if (!prod.kept) {
      await withClient(prod.url, async (c) => {
        for (const t of tenants) for (const s of prodLikeTenantSql(t, Math.floor(ROWS / TENANTS))) await c.query(s);
        await c.query("VACUUM ANALYZE");
        await c.query(`COMMENT ON TABLE "public"."patient" IS '${TENANTS}x${ROWS}'`);
      });
    }
    console.log(`source: ${TENANTS} clinics x ${Math.floor(ROWS / TENANTS).toLocaleString("en")} rows, ${prod.kept ? "kept from an earlier run (--rebuild rebuilds)" : `built in ${seconds(performance.now() - t0)} s (kept for later runs)`}`);

    // Interleaved, so a slow minute of a busy machine falls on both sides: the headline is the median of the ratios.
    const ratios: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      t0 = performance.now();
      const result = await refreshStagingCopy({
        source: { ...prod, tenants }, target: staging, selection: {}, runKey: randomBytes(32), stamp: `bench${run}`, log: (l) => console.log(`  ${l}`),
      });
      const refreshMs = performance.now() - t0;
      if (!result.report?.ok) throw new Error("the refresh did not verify");
      await backend.deleteBranch(staging.projectId, result.branch!.branchId);
      console.log(`run ${run}: staging refresh: ${result.rows.toLocaleString("en")} rows masked, rebuilt and verified in ${seconds(refreshMs)} s`);

      const restoreDb = "bench_stg_restore";
      await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${restoreDb} WITH (FORCE)`));
      await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${restoreDb}`));
      const admin = (db: string) => Object.assign(new URL(serverUrl), { pathname: `/${db}` }).toString();
      t0 = performance.now();
      await pgDumpRestore(admin(localBranchDatabase(prod.projectId, "main")), admin(restoreDb));
      const dumpMs = performance.now() - t0;
      await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${restoreDb} WITH (FORCE)`));
      console.log(`run ${run}: pg_dump | pg_restore of the source database (same rows, nothing masked or verified): ${seconds(dumpMs)} s; ratio ${(refreshMs / dumpMs).toFixed(2)}`);
      ratios.push(refreshMs / dumpMs);
    }
    const label = ROWS === 1_000_000 ? "1M" : `${ROWS}`;
    console.log(`staging-refresh-${label} / pg_dump|pg_restore = ${median(ratios).toFixed(2)} (median of ${RUNS} interleaved runs; target <= 1.5)`);
  } finally {
    await backend.deleteProject("bench-stg-staging");
    await backend.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
