-- Playbook phase 0: a Clinic model and a nullable clinic_id on every tenant table.
-- The column is added without a default (no table rewrite, no long lock) and the default is set afterwards:
-- new rows get the legacy clinic, existing rows stay NULL until the batched backfill sets them.
CREATE TABLE "clinic" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "tier" TEXT NOT NULL DEFAULT 'standard',
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT "clinic_pkey" PRIMARY KEY ("id")
);
INSERT INTO "clinic" ("id", "name") VALUES ('legacy', 'Legacy clinic') ON CONFLICT ("id") DO NOTHING;

ALTER TABLE "user" ADD COLUMN "clinic_id" TEXT;
ALTER TABLE "user" ALTER COLUMN "clinic_id" SET DEFAULT 'legacy';
-- NOT VALID: enforced for new rows now, checked for old rows in phase 1 without blocking writes.
ALTER TABLE "user" ADD CONSTRAINT "user_clinic_id_fkey" FOREIGN KEY ("clinic_id") REFERENCES "clinic"("id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;

ALTER TABLE "branch" ADD COLUMN "clinic_id" TEXT;
ALTER TABLE "branch" ALTER COLUMN "clinic_id" SET DEFAULT 'legacy';
-- NOT VALID: enforced for new rows now, checked for old rows in phase 1 without blocking writes.
ALTER TABLE "branch" ADD CONSTRAINT "branch_clinic_id_fkey" FOREIGN KEY ("clinic_id") REFERENCES "clinic"("id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;

ALTER TABLE "therapist" ADD COLUMN "clinic_id" TEXT;
ALTER TABLE "therapist" ALTER COLUMN "clinic_id" SET DEFAULT 'legacy';
-- NOT VALID: enforced for new rows now, checked for old rows in phase 1 without blocking writes.
ALTER TABLE "therapist" ADD CONSTRAINT "therapist_clinic_id_fkey" FOREIGN KEY ("clinic_id") REFERENCES "clinic"("id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;

ALTER TABLE "patient" ADD COLUMN "clinic_id" TEXT;
ALTER TABLE "patient" ALTER COLUMN "clinic_id" SET DEFAULT 'legacy';
-- NOT VALID: enforced for new rows now, checked for old rows in phase 1 without blocking writes.
ALTER TABLE "patient" ADD CONSTRAINT "patient_clinic_id_fkey" FOREIGN KEY ("clinic_id") REFERENCES "clinic"("id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;

ALTER TABLE "paquete" ADD COLUMN "clinic_id" TEXT;
ALTER TABLE "paquete" ALTER COLUMN "clinic_id" SET DEFAULT 'legacy';
-- NOT VALID: enforced for new rows now, checked for old rows in phase 1 without blocking writes.
ALTER TABLE "paquete" ADD CONSTRAINT "paquete_clinic_id_fkey" FOREIGN KEY ("clinic_id") REFERENCES "clinic"("id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;

ALTER TABLE "appointment" ADD COLUMN "clinic_id" TEXT;
ALTER TABLE "appointment" ALTER COLUMN "clinic_id" SET DEFAULT 'legacy';
-- NOT VALID: enforced for new rows now, checked for old rows in phase 1 without blocking writes.
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_id_fkey" FOREIGN KEY ("clinic_id") REFERENCES "clinic"("id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;

ALTER TABLE "payment" ADD COLUMN "clinic_id" TEXT;
ALTER TABLE "payment" ALTER COLUMN "clinic_id" SET DEFAULT 'legacy';
-- NOT VALID: enforced for new rows now, checked for old rows in phase 1 without blocking writes.
ALTER TABLE "payment" ADD CONSTRAINT "payment_clinic_id_fkey" FOREIGN KEY ("clinic_id") REFERENCES "clinic"("id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
