import { withClient } from "../infra/database/sql/withClient";
import { ensureFenceTriggers } from "../infra/tenancy/tenantFence";
import { tenantDatabase } from "./tenantFixtures";

/** A pool database as the platform builds it, with the fence triggers its boundary step installs. */
export async function poolDatabase(prefix: string) {
  const db = await tenantDatabase(prefix);
  await withClient(db.url, ensureFenceTriggers);
  return db;
}

/**
 * Prod-shaped rows for one tenant, ~`n` across the 7 tables: staff whose email is also a therapist's (the same
 * person in two tables), patients with and without phones, names with accents, a branch address holding a tab
 * and a backslash (COPY escapes them), and one patient email shared with another clinic (the unique is per
 * clinic, so the same person may be a patient of two).
 */
export function prodLikeTenantSql(t: string, n: number): string[] {
  const u = Math.max(2, Math.floor(n / 100)), b = Math.max(1, Math.floor(n / 1000)), th = Math.max(2, Math.floor(n / 200));
  const p = Math.floor((3 * n) / 10), pk = Math.max(1, Math.floor(n / 1000)), a = Math.floor((4 * n) / 10);
  const pay = Math.max(1, n - (u + b + th + p + pk + a));
  return [
    `INSERT INTO "clinic" (id, name, tier) VALUES ('${t}', 'Clínica ${t}', 'standard') ON CONFLICT DO NOTHING`,
    `INSERT INTO "user" (id, email, name, password_hash, clinic_id) SELECT '${t}-u' || i, 'staff' || i || '.${t}@clinic.example', 'Núria Staff ' || i, '$2b$10$' || md5('${t}' || i), '${t}' FROM generate_series(1, ${u}) i`,
    `INSERT INTO "branch" (id, name, address, clinic_id) SELECT '${t}-b' || i, 'Sede ' || i, E'Carrer Major ' || i || E'\\t2º\\\\B', '${t}' FROM generate_series(1, ${b}) i`,
    // The first two therapists are staff users too: same email in both tables.
    `INSERT INTO "therapist" (id, name, email, branch_id, clinic_id) SELECT '${t}-t' || i, 'Terapeuta ' || i, CASE WHEN i <= 2 THEN 'staff' || i || '.${t}@clinic.example' ELSE 'ther' || i || '.${t}@clinic.example' END, '${t}-b' || (1 + i % ${b}), '${t}' FROM generate_series(1, ${th}) i`,
    `INSERT INTO "patient" (id, name, email, phone, clinic_id) SELECT '${t}-p' || i, 'Pacient ' || i || ' Ñúñez', CASE WHEN i = 1 THEN 'shared.patient@mail.example' ELSE 'p' || i || '.${t}@mail.example' END, CASE WHEN i % 5 = 0 THEN NULL ELSE '+34 6' || lpad((i % 100000000)::text, 8, '0') END, '${t}' FROM generate_series(1, ${p}) i`,
    `INSERT INTO "paquete" (id, name, sessions, price_cents, clinic_id) SELECT '${t}-k' || i, 'Bono ' || i, 1 + i % 10, 1000 * i, '${t}' FROM generate_series(1, ${pk}) i`,
    `INSERT INTO "appointment" (id, patient_id, therapist_id, branch_id, paquete_id, date, hour, status, clinic_id)
       SELECT '${t}-a' || i, '${t}-p' || (1 + i % ${p}), '${t}-t' || (1 + i % ${th}), '${t}-b' || (1 + (i % ${th}) % ${b}), CASE WHEN i % 3 = 0 THEN '${t}-k' || (1 + i % ${pk}) END,
              date '2026-01-01' + (i % 365), lpad((8 + i % 10)::text, 2, '0') || ':00', 'booked', '${t}' FROM generate_series(1, ${a}) i`,
    `INSERT INTO "payment" (id, appointment_id, patient_id, amount_cents, stripe_id, clinic_id)
       SELECT '${t}-pay' || i, '${t}-a' || (1 + i % ${a}), '${t}-p' || (1 + (i % ${a}) % ${p}), 500 + i % 10000, CASE WHEN i % 4 = 0 THEN NULL ELSE 'pi_' || md5('${t}' || i) END, '${t}' FROM generate_series(1, ${pay}) i`,
  ];
}

export async function seedProdLike(url: string, tenants: string[], rowsPerTenant: number): Promise<void> {
  await withClient(url, async (c) => {
    for (const t of tenants) for (const s of prodLikeTenantSql(t, rowsPerTenant)) await c.query(s);
    await c.query("ANALYZE");
  });
}
