-- Playbook phase 1: NOT NULL the safe way, step 2 (deploy after the backfill has finished).
-- VALIDATE scans under SHARE UPDATE EXCLUSIVE (writes continue); SET NOT NULL then uses the validated CHECK
-- instead of scanning again (Postgres 12+), and the CHECK is dropped as redundant.
ALTER TABLE "user" VALIDATE CONSTRAINT "user_clinic_id_not_null";
ALTER TABLE "user" VALIDATE CONSTRAINT "user_clinic_id_fkey";
ALTER TABLE "user" ALTER COLUMN "clinic_id" SET NOT NULL;
ALTER TABLE "user" DROP CONSTRAINT "user_clinic_id_not_null";
ALTER TABLE "branch" VALIDATE CONSTRAINT "branch_clinic_id_not_null";
ALTER TABLE "branch" VALIDATE CONSTRAINT "branch_clinic_id_fkey";
ALTER TABLE "branch" ALTER COLUMN "clinic_id" SET NOT NULL;
ALTER TABLE "branch" DROP CONSTRAINT "branch_clinic_id_not_null";
ALTER TABLE "therapist" VALIDATE CONSTRAINT "therapist_clinic_id_not_null";
ALTER TABLE "therapist" VALIDATE CONSTRAINT "therapist_clinic_id_fkey";
ALTER TABLE "therapist" ALTER COLUMN "clinic_id" SET NOT NULL;
ALTER TABLE "therapist" DROP CONSTRAINT "therapist_clinic_id_not_null";
ALTER TABLE "patient" VALIDATE CONSTRAINT "patient_clinic_id_not_null";
ALTER TABLE "patient" VALIDATE CONSTRAINT "patient_clinic_id_fkey";
ALTER TABLE "patient" ALTER COLUMN "clinic_id" SET NOT NULL;
ALTER TABLE "patient" DROP CONSTRAINT "patient_clinic_id_not_null";
ALTER TABLE "paquete" VALIDATE CONSTRAINT "paquete_clinic_id_not_null";
ALTER TABLE "paquete" VALIDATE CONSTRAINT "paquete_clinic_id_fkey";
ALTER TABLE "paquete" ALTER COLUMN "clinic_id" SET NOT NULL;
ALTER TABLE "paquete" DROP CONSTRAINT "paquete_clinic_id_not_null";
ALTER TABLE "appointment" VALIDATE CONSTRAINT "appointment_clinic_id_not_null";
ALTER TABLE "appointment" VALIDATE CONSTRAINT "appointment_clinic_id_fkey";
ALTER TABLE "appointment" ALTER COLUMN "clinic_id" SET NOT NULL;
ALTER TABLE "appointment" DROP CONSTRAINT "appointment_clinic_id_not_null";
ALTER TABLE "payment" VALIDATE CONSTRAINT "payment_clinic_id_not_null";
ALTER TABLE "payment" VALIDATE CONSTRAINT "payment_clinic_id_fkey";
ALTER TABLE "payment" ALTER COLUMN "clinic_id" SET NOT NULL;
ALTER TABLE "payment" DROP CONSTRAINT "payment_clinic_id_not_null";
