import path from "node:path";
import { parseArgs } from "node:util";
import { median } from "./stats";
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { ensureAppRole, withCredentials } from "../../infra/database/sql/appRole";
import { LocalPostgresBackend } from "../../infra/database/local/localPostgresBackend";
import { applyPendingMigrations } from "../../infra/migrations/applyPendingMigrations";
import { loadMigrations } from "../../infra/migrations/migrationSource";
import { setTenancyMode } from "../../infra/tenancy/rlsModes";
import { ensureTestPostgres } from "../services/ensurePostgres";

/**
 * bench:rls — a tenant-scoped indexed query (one clinic's appointments on one day) over N appointments (default
 * 1 M, 100 clinics), through the RLS-bound app role in enforce mode vs the same query without RLS (the migrator,
 * BYPASSRLS), interleaved in one run. Target: median ratio <= 1.2.
 */
const { values } = parseArgs({ options: { rows: { type: "string", default: "1000000" }, queries: { type: "string", default: "3000" } } });
const rows = Number(values.rows);
const queries = Number(values.queries);

async function main() {
  const serverUrl = await ensureTestPostgres((m) => console.log(m));
  const backend = new LocalPostgresBackend(serverUrl);
  const project = `bench-rls-${Date.now().toString(36)}`;
  await backend.ensureProject({ name: project });
  try {
    const migrator = await backend.ensureRole(project, "main", "bloom_migrator");
    await backend.ensureDatabase(project, "main", "bloom", migrator.name);
    const url = await backend.connectionUri({ projectId: project, branchId: "main", database: "bloom", role: migrator.name, password: migrator.password });
    const app = await ensureAppRole(url, `${project.replace(/-/g, "_")}__bloom_app`);
    await applyPendingMigrations(url, loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), { database: project });
    await setTenancyMode(url, "enforce");
    const seed = new Client({ connectionString: url });
    await seed.connect();
    console.log(`loading ${rows.toLocaleString("en")} appointments over 100 clinics…`);
    await seed.query(`INSERT INTO clinic (id, name) SELECT 'c' || g, 'Clinic ' || g FROM generate_series(1, 100) g`);
    await seed.query(`INSERT INTO branch (id, name, clinic_id) SELECT 'b' || g, 'B', 'c' || g FROM generate_series(1, 100) g`);
    await seed.query(`INSERT INTO therapist (id, name, branch_id, clinic_id) SELECT 't' || g, 'T', 'b' || g, 'c' || g FROM generate_series(1, 100) g`);
    await seed.query(`INSERT INTO patient (id, name, clinic_id) SELECT 'p' || g, 'P', 'c' || (1 + g % 100) FROM generate_series(1, 10000) g`);
    await seed.query(`INSERT INTO appointment (id, patient_id, therapist_id, branch_id, date, hour, clinic_id)
      SELECT 'a' || g, 'p' || (1 + (g % 100) + 100 * ((g / 100) % 100)), 't' || (1 + g % 100), 'b' || (1 + g % 100),
             DATE '2026-01-01' + (g / 100 % 365), lpad((8 + g % 10)::text, 2, '0') || ':00', 'c' || (1 + g % 100)
      FROM generate_series(1, $1::int) g`, [rows]);
    await seed.query("ANALYZE");
    await seed.end();

    const bypass = new Client({ connectionString: url });
    const bound = new Client({ connectionString: withCredentials(url, app.name, app.password) });
    await bypass.connect();
    await bound.connect();
    const q = `SELECT id, hour FROM appointment WHERE clinic_id = $1 AND date = $2`;
    const withRls: number[] = [];
    const without: number[] = [];
    for (let i = 0; i < queries + 200; i++) {
      const clinic = `c${1 + (i % 100)}`;
      const day = new Date(Date.UTC(2026, 0, 1 + (i % 365))).toISOString().slice(0, 10);
      await bound.query(`SET app.clinic_id = '${clinic}'`);
      let t = performance.now();
      const a = await bound.query(q, [clinic, day]);
      const rlsMs = performance.now() - t;
      t = performance.now();
      const b = await bypass.query(q, [clinic, day]);
      const plainMs = performance.now() - t;
      if (a.rowCount !== b.rowCount) throw new Error(`RLS changed the answer for ${clinic} on ${day}: ${a.rowCount} vs ${b.rowCount}`);
      if (i >= 200) {
        withRls.push(rlsMs);
        without.push(plainMs);
      }
    }
    const plan = await bound.query(`EXPLAIN ${q.replace("$1", "'c1'").replace("$2", "'2026-01-02'")}`);
    await bypass.end();
    await bound.end();
    console.log(`plan with RLS: ${plan.rows.map((r) => r["QUERY PLAN"]).join(" / ")}`);
    console.log(`with RLS: median ${median(withRls).toFixed(3)} ms; without: median ${median(without).toFixed(3)} ms (${queries} queries each, interleaved)`);
    console.log(`rls-overhead = ${(median(withRls) / median(without)).toFixed(2)} (target <= 1.2)`);
  } finally {
    await backend.deleteProject(project);
    await backend.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
