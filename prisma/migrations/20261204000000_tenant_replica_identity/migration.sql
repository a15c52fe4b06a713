-- Issue 11: online extraction publishes one tenant's rows with a row filter on clinic_id. A publication that
-- carries UPDATE and DELETE may filter only on replica-identity columns, so each tenant table's replica identity
-- becomes its (clinic_id, id) unique index (built in 20261201000100); the subscriber finds rows by the same key.
-- A catalog-only change (no rewrite); the brief lock is taken under the runner's lock_timeout with retries.
ALTER TABLE "user" REPLICA IDENTITY USING INDEX "user_clinic_id_id_key";
ALTER TABLE "branch" REPLICA IDENTITY USING INDEX "branch_clinic_id_id_key";
ALTER TABLE "therapist" REPLICA IDENTITY USING INDEX "therapist_clinic_id_id_key";
ALTER TABLE "patient" REPLICA IDENTITY USING INDEX "patient_clinic_id_id_key";
ALTER TABLE "paquete" REPLICA IDENTITY USING INDEX "paquete_clinic_id_id_key";
ALTER TABLE "appointment" REPLICA IDENTITY USING INDEX "appointment_clinic_id_id_key";
ALTER TABLE "payment" REPLICA IDENTITY USING INDEX "payment_clinic_id_id_key";
