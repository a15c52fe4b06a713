-- Playbook phase 1: NOT NULL the safe way, step 1. A CHECK added NOT VALID is enforced for new rows at once and
-- costs no scan; the backfill then sets clinic_id on old rows, and the next migration validates.
ALTER TABLE "user" ADD CONSTRAINT "user_clinic_id_not_null" CHECK ("clinic_id" IS NOT NULL) NOT VALID;
ALTER TABLE "branch" ADD CONSTRAINT "branch_clinic_id_not_null" CHECK ("clinic_id" IS NOT NULL) NOT VALID;
ALTER TABLE "therapist" ADD CONSTRAINT "therapist_clinic_id_not_null" CHECK ("clinic_id" IS NOT NULL) NOT VALID;
ALTER TABLE "patient" ADD CONSTRAINT "patient_clinic_id_not_null" CHECK ("clinic_id" IS NOT NULL) NOT VALID;
ALTER TABLE "paquete" ADD CONSTRAINT "paquete_clinic_id_not_null" CHECK ("clinic_id" IS NOT NULL) NOT VALID;
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_id_not_null" CHECK ("clinic_id" IS NOT NULL) NOT VALID;
ALTER TABLE "payment" ADD CONSTRAINT "payment_clinic_id_not_null" CHECK ("clinic_id" IS NOT NULL) NOT VALID;
