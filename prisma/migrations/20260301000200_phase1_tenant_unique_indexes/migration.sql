-- Playbook phase 1: composite uniques per clinic, built without blocking writes (step 1 of 2).
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "user_clinic_id_email_key" ON "user" ("clinic_id", "email");
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "paquete_clinic_id_name_key" ON "paquete" ("clinic_id", "name");
