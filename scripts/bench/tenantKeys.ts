import path from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { applyPendingMigrations } from "../../infra/migrations/applyPendingMigrations";
import { loadMigrations } from "../../infra/migrations/migrationSource";
import { withClient } from "../../infra/database/sql/withClient";
import { ensureTestPostgres } from "../services/ensurePostgres";
import { startAppWriter } from "./appWriter";
import { max, percentile } from "./stats";

/**
 * bench:tenant-keys — the tenant-scoped key migrations (20261201000100…400: unique (clinic_id, id) CONCURRENTLY,
 * composite foreign keys NOT VALID, VALIDATE, drop the old keys) applied to a populated pool while an app-like
 * writer books appointments and payments for random clinics (autocommit statements: lock waits, not policies,
 * are what this measures). Reports the
 * writer's max and p99 statement time during the migrations against a baseline measured just before, in the same
 * run. Target: no app statement waits more than 200 ms (the backfill bench's bar).
 */
const { values } = parseArgs({ options: { appointments: { type: "string", default: "1000000" } } });
const appointments = Number(values.appointments);
const CLINICS = 100;
const sql = (url: string, text: string, params: unknown[] = []) => withClient(url, (c) => c.query(text, params), "bloom-bench");

async function main() {
  const serverUrl = await ensureTestPostgres((m) => console.log(m));
  const name = "bench_tenant_keys";
  await sql(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await sql(serverUrl, `CREATE DATABASE ${name}`);
  const url = Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
  try {
    const all = loadMigrations(path.join(REPO_ROOT, "prisma", "migrations"));
    const before = all.filter((m) => m.name < "20261201000100");
    const keys = all.filter((m) => m.name >= "20261201000100" && m.name < "20261201000500");
    await applyPendingMigrations(url, before, { database: name });
    const patients = appointments / 5;
    console.log(`loading ${appointments.toLocaleString("en")} appointments, ${patients.toLocaleString("en")} patients and ${(appointments / 2).toLocaleString("en")} payments over ${CLINICS} clinics…`);
    await sql(url, `INSERT INTO clinic (id, name) SELECT 'c' || g, 'C' || g FROM generate_series(1, ${CLINICS}) g`);
    await sql(url, `INSERT INTO branch (id, name, clinic_id) SELECT 'b' || g, 'B', 'c' || g FROM generate_series(1, ${CLINICS}) g`);
    await sql(url, `INSERT INTO therapist (id, name, branch_id, clinic_id) SELECT 't' || g, 'T', 'b' || g, 'c' || g FROM generate_series(1, ${CLINICS}) g`);
    await sql(url, `INSERT INTO patient (id, name, clinic_id) SELECT 'p' || g, 'P', 'c' || (1 + g % ${CLINICS}) FROM generate_series(1, $1::int) g`, [patients]);
    await sql(url, `INSERT INTO appointment (id, patient_id, therapist_id, branch_id, date, hour, clinic_id)
      SELECT 'a' || g, 'p' || (1 + g % $2::int), 't' || (1 + (1 + g % $2::int) % ${CLINICS}), 'b' || (1 + (1 + g % $2::int) % ${CLINICS}),
             DATE '2026-01-01' + g % 365, '10:00', 'c' || (1 + (1 + g % $2::int) % ${CLINICS}) FROM generate_series(1, $1::int) g`, [appointments, patients]);
    await sql(url, `INSERT INTO payment (id, appointment_id, patient_id, amount_cents, clinic_id)
      SELECT 'pay' || g, 'a' || g, 'p' || (1 + g % $1::int), 100, 'c' || (1 + (1 + g % $1::int) % ${CLINICS}) FROM generate_series(1, $2::int) g`, [patients, appointments / 2]);
    await sql(url, "VACUUM ANALYZE");

    // The app: for a random clinic, book an appointment for one of its patients and take a payment for it.
    const writer = (run: string) => startAppWriter(url, async (timed, i) => {
      const p = 1 + Math.floor(Math.random() * (patients - 1));
      const c = 1 + (p % CLINICS); // patient p<n> belongs to clinic c<1 + n % 100>
      await timed(`INSERT INTO appointment (id, patient_id, therapist_id, branch_id, date, hour, clinic_id) VALUES ($1, $2, $3, $4, '2026-12-01', '09:00', $5)`,
        [`w-a-${run}-${i}`, `p${p}`, `t${c}`, `b${c}`, `c${c}`]);
      await timed(`INSERT INTO payment (id, appointment_id, patient_id, amount_cents, clinic_id) VALUES ($1, $2, $3, 100, $4)`, [`w-pay-${run}-${i}`, `w-a-${run}-${i}`, `p${p}`, `c${c}`]);
    });
    const baseline = writer("baseline");
    await new Promise((r) => setTimeout(r, 5_000));
    await baseline.stop();

    const during = writer("during");
    const t = performance.now();
    await applyPendingMigrations(url, [...before, ...keys], { database: name });
    const seconds = (performance.now() - t) / 1000;
    await during.stop();
    const fks = (await sql(url, "SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'f' AND convalidated AND array_length(conkey, 1) = 2")).rows[0].n;
    console.log(`baseline (5 s, no migration): writer ${baseline.times.length} statements, p99 ${percentile(baseline.times, 99).toFixed(1)} ms, max ${max(baseline.times).toFixed(1)} ms`);
    console.log(`tenant-key migrations: ${keys.length} files in ${seconds.toFixed(1)} s, ${fks} composite foreign keys validated; writer ${during.times.length} statements, p99 ${percentile(during.times, 99).toFixed(1)} ms`);
    console.log(`tenant-keys max writer wait = ${max(during.times).toFixed(0)} ms (baseline max ${max(baseline.times).toFixed(0)} ms; target <= 200 ms)`);
  } finally {
    await sql(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
