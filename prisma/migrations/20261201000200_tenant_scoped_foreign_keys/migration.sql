-- Issue 9: tenant-scoped keys, step 2 of 4. Every reference between tenant tables gains a composite foreign key
-- (clinic_id, x_id) -> (clinic_id, id) on the unique indexes of step 1 (a non-partial unique index is enough: no
-- constraint promotion, which would take ACCESS EXCLUSIVE). NOT VALID: enforced for new rows at once, no scan under
-- the lock; step 3 validates.
-- The app locks a child table, then its parents (an insert, then its foreign-key checks). Taking every lock up
-- front in the same order, children first, means this transaction never holds a parent while waiting for a child.
LOCK TABLE "payment", "appointment", "therapist", "patient", "branch", "paquete" IN SHARE ROW EXCLUSIVE MODE;
ALTER TABLE "therapist" ADD CONSTRAINT "therapist_clinic_branch_fkey" FOREIGN KEY ("clinic_id", "branch_id") REFERENCES "branch" ("clinic_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_patient_fkey" FOREIGN KEY ("clinic_id", "patient_id") REFERENCES "patient" ("clinic_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_therapist_fkey" FOREIGN KEY ("clinic_id", "therapist_id") REFERENCES "therapist" ("clinic_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_branch_fkey" FOREIGN KEY ("clinic_id", "branch_id") REFERENCES "branch" ("clinic_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
-- SET NULL of the reference column only: clinic_id stays (Postgres 15+).
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_paquete_fkey" FOREIGN KEY ("clinic_id", "paquete_id") REFERENCES "paquete" ("clinic_id", "id") ON DELETE SET NULL ("paquete_id") ON UPDATE CASCADE NOT VALID;
ALTER TABLE "payment" ADD CONSTRAINT "payment_clinic_appointment_fkey" FOREIGN KEY ("clinic_id", "appointment_id") REFERENCES "appointment" ("clinic_id", "id") ON DELETE SET NULL ("appointment_id") ON UPDATE CASCADE NOT VALID;
ALTER TABLE "payment" ADD CONSTRAINT "payment_clinic_patient_fkey" FOREIGN KEY ("clinic_id", "patient_id") REFERENCES "patient" ("clinic_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
