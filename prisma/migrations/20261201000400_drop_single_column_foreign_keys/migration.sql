-- Issue 9: tenant-scoped keys, step 4 of 4. The single-column foreign keys let a row reference another clinic's row:
-- dropped in their own short transaction (a catalog change, under ACCESS EXCLUSIVE), after step 3 validated.
-- Locks taken up front, children before parents, the order the app's inserts take them (see step 2).
LOCK TABLE "payment", "appointment", "therapist", "patient", "branch", "paquete" IN ACCESS EXCLUSIVE MODE;
ALTER TABLE "payment" DROP CONSTRAINT IF EXISTS "payment_appointment_id_fkey";
ALTER TABLE "payment" DROP CONSTRAINT IF EXISTS "payment_patient_id_fkey";
ALTER TABLE "appointment" DROP CONSTRAINT IF EXISTS "appointment_patient_id_fkey";
ALTER TABLE "appointment" DROP CONSTRAINT IF EXISTS "appointment_therapist_id_fkey";
ALTER TABLE "appointment" DROP CONSTRAINT IF EXISTS "appointment_branch_id_fkey";
ALTER TABLE "appointment" DROP CONSTRAINT IF EXISTS "appointment_paquete_id_fkey";
ALTER TABLE "therapist" DROP CONSTRAINT IF EXISTS "therapist_branch_id_fkey";
