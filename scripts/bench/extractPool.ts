import path from "node:path";
import { performance } from "node:perf_hooks";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { withClient } from "../../infra/database/sql/withClient";
import { applyPendingMigrations } from "../../infra/migrations/applyPendingMigrations";
import { loadMigrations } from "../../infra/migrations/migrationSource";
import { ensureFenceTriggers } from "../../infra/tenancy/tenantFence";
import { tenantRowCount, upsertTenantRecord } from "../../infra/tenancy/tenantCatalog";
import { deleteTenantRows } from "../../infra/tenancy/move/purgeCopy";

/** The extract benchmarks' pool: `--tenants` tenants of `--rows` rows each across the 7 tenant tables. */
export const BIG = "tenant-0";
export const benchSql = (url: string, text: string, params: unknown[] = []) => withClient(url, (c) => c.query(text, params), "bloom-bench");
const sql = benchSql;
export const dbUrl = (serverUrl: string, name: string) => Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
export const seconds = (ms: number) => (ms / 1000).toFixed(2);

export async function freshDatabase(serverUrl: string, name: string, migrate = true): Promise<string> {
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

export interface PoolSize { tenants: number; rows: number; rebuild: boolean }

/** The pool (`bench_extract_pool` on the server): built once per size and kept; `rebuild` forces it. */
export async function buildBenchPool(serverUrl: string, size: PoolSize): Promise<string> {
  const { tenants: TENANTS, rows: ROWS } = size;
  const name = "bench_extract_pool";
  const url = dbUrl(serverUrl, name);
  const marker = `${TENANTS}x${ROWS}`;
  const existing = await sql(serverUrl, `SELECT 1 FROM pg_database WHERE datname = $1`, [name]);
  if (!size.rebuild && existing.rowCount) {
    const built = await sql(url, `SELECT obj_description('public.patient'::regclass) AS m`).catch(() => undefined);
    if (built?.rows[0]?.m === marker) {
      // A kept pool gets the migrations added since it was built (source and target must match).
      await applyPendingMigrations(url, loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), { database: name });
      // A tenant short of rows (a killed run's purge or move) gets them again; a killed run's writers' users go.
      await sql(url, `DELETE FROM "user" WHERE id LIKE 'w-%'`);
      for (let i = 0; i < TENANTS; i++) {
        const tenant = `tenant-${i}`;
        const held = await withClient(url, (c) => tenantRowCount(c, tenant));
        if (held === ROWS) continue;
        console.log(`  ${tenant} holds ${held.toLocaleString("en")} rows, not ${ROWS.toLocaleString("en")}: loading it again`);
        await withClient(url, async (c) => {
          await deleteTenantRows(c, tenant);
          for (const s of tenantRowsSql(tenant, ROWS)) await c.query(s);
        });
      }
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

/** The catalog as the platform keeps it for pooled tenants; a previous run's move and fences are reset. */
export async function resetCatalog(poolUrl: string, tenants: string[]): Promise<void> {
  await benchSql(poolUrl, `DELETE FROM bloom_platform.tenant_fences`);
  for (const t of tenants) {
    await benchSql(poolUrl, `UPDATE bloom_platform.tenants SET isolation = 'pooled', location = '{"kind":"pool"}', move = NULL, move_state = 'settled', pending_purge = NULL WHERE id = $1`, [t]);
    await upsertTenantRecord(poolUrl, { id: t, name: t, tier: "enterprise", isolation: "pooled", location: { kind: "pool" } });
  }
}
