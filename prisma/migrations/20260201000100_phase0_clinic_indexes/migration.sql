-- Playbook phase 0: tenant indexes, built without blocking writes. CONCURRENTLY cannot run in a transaction,
-- so the runner executes this file statement by statement; IF NOT EXISTS makes a rerun safe.
CREATE INDEX CONCURRENTLY IF NOT EXISTS "user_clinic_id_idx" ON "user" ("clinic_id");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "branch_clinic_id_idx" ON "branch" ("clinic_id");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "therapist_clinic_id_idx" ON "therapist" ("clinic_id");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "patient_clinic_id_idx" ON "patient" ("clinic_id");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "paquete_clinic_id_idx" ON "paquete" ("clinic_id");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "appointment_clinic_id_date_idx" ON "appointment" ("clinic_id", "date");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "payment_clinic_id_idx" ON "payment" ("clinic_id");
