import path from "node:path";
import { REPO_ROOT } from "../infra/config/stackFile";
import { applyPendingMigrations } from "../infra/migrations/applyPendingMigrations";
import { loadMigrations } from "../infra/migrations/migrationSource";
import { query } from "./postgres";

/**
 * A database as production would be between playbook phases 0 and 1: the single-clinic schema with data, then the
 * phase-0 migrations — so existing rows have clinic_id NULL and wait for the backfill. (The phase-1 CHECK … NOT
 * VALID migration comes after the backfill: Postgres checks a NOT VALID constraint on every UPDATE, so an app
 * update of a not-yet-backfilled row would fail.)
 */
export async function databaseAwaitingBackfill(url: string, database: string, patients: number): Promise<void> {
  const all = loadMigrations(path.join(REPO_ROOT, "prisma", "migrations"));
  const upTo = (name: string) => all.filter((m) => m.name <= name);
  await applyPendingMigrations(url, upTo("20260101000000_single_clinic"), { database });
  await query(url, `INSERT INTO "branch" (id, name) SELECT 'b-' || g, 'Branch ' || g FROM generate_series(1, 20) g`);
  await query(url, `INSERT INTO "therapist" (id, name, branch_id) SELECT 't-' || g, 'T ' || g, 'b-' || (1 + g % 20) FROM generate_series(1, 40) g`);
  await query(url, `INSERT INTO "patient" (id, name) SELECT 'p-' || lpad(g::text, 8, '0'), 'Patient ' || g FROM generate_series(1, $1::int) g`, [patients]);
  await query(url, `INSERT INTO "user" (id, email, name, password_hash) SELECT 'u-' || g, 'u' || g || '@x', 'U', 'x' FROM generate_series(1, 30) g`);
  await query(url, `INSERT INTO "paquete" (id, name, sessions, price_cents) SELECT 'pk-' || g, 'Pack ' || g, 5, 1000 FROM generate_series(1, 5) g`);
  await query(url, `INSERT INTO "appointment" (id, patient_id, therapist_id, branch_id, date, hour) SELECT 'a-' || g, 'p-' || lpad((1 + g % $1::int)::text, 8, '0'), 't-' || (1 + g % 40), 'b-' || (1 + g % 20), '2026-12-01', '10:00' FROM generate_series(1, 500) g`, [patients]);
  await query(url, `INSERT INTO "payment" (id, patient_id, amount_cents) SELECT 'pay-' || g, 'p-' || lpad((1 + g % $1::int)::text, 8, '0'), 100 FROM generate_series(1, 200) g`, [patients]);
  await applyPendingMigrations(url, upTo("20260201000100_phase0_clinic_indexes"), { database });
}
