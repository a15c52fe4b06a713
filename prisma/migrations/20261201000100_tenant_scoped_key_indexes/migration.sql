-- Issue 9: tenant-scoped keys, step 1 of 4. A unique (clinic_id, id) per tenant table, built without blocking writes:
-- composite foreign keys reference it, and row-filtered logical replication uses it as replica identity.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "user_clinic_id_id_key" ON "user" ("clinic_id", "id");
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "branch_clinic_id_id_key" ON "branch" ("clinic_id", "id");
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "therapist_clinic_id_id_key" ON "therapist" ("clinic_id", "id");
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "patient_clinic_id_id_key" ON "patient" ("clinic_id", "id");
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "paquete_clinic_id_id_key" ON "paquete" ("clinic_id", "id");
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "appointment_clinic_id_id_key" ON "appointment" ("clinic_id", "id");
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "payment_clinic_id_id_key" ON "payment" ("clinic_id", "id");
