-- Playbook phase 2 step 5 (docs/runbooks/enforcement.md, "The legacy clinic's own clinicId"): once the legacy clinic's
-- sessions carry its own clinicId, a row created without a tenant must not quietly become the legacy clinic's. The
-- default keeps following the transaction's tenant and is NULL without one, so such an insert fails on NOT NULL
-- (23502) instead. Not in prisma/migrations until then: moved there at that step, with schema.prisma's default.
-- Setting a default is a catalog change only: no rewrite, no scan.
ALTER TABLE "user" ALTER COLUMN "clinic_id" SET DEFAULT NULLIF(current_setting('app.clinic_id', true), '');
ALTER TABLE "branch" ALTER COLUMN "clinic_id" SET DEFAULT NULLIF(current_setting('app.clinic_id', true), '');
ALTER TABLE "therapist" ALTER COLUMN "clinic_id" SET DEFAULT NULLIF(current_setting('app.clinic_id', true), '');
ALTER TABLE "patient" ALTER COLUMN "clinic_id" SET DEFAULT NULLIF(current_setting('app.clinic_id', true), '');
ALTER TABLE "paquete" ALTER COLUMN "clinic_id" SET DEFAULT NULLIF(current_setting('app.clinic_id', true), '');
ALTER TABLE "appointment" ALTER COLUMN "clinic_id" SET DEFAULT NULLIF(current_setting('app.clinic_id', true), '');
ALTER TABLE "payment" ALTER COLUMN "clinic_id" SET DEFAULT NULLIF(current_setting('app.clinic_id', true), '');
