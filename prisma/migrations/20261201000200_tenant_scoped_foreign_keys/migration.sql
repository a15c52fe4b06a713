-- Issue 9: tenant-scoped keys, step 2 of 4. The ready indexes become constraints (catalog only), and every reference
-- between tenant tables gains a composite foreign key (clinic_id, x_id) -> (clinic_id, id): a row can only point at
-- a row of its own clinic. NOT VALID: enforced for new rows at once, no scan under the lock; step 3 validates.
ALTER TABLE "user" ADD CONSTRAINT "user_clinic_id_id_key" UNIQUE USING INDEX "user_clinic_id_id_key";
ALTER TABLE "branch" ADD CONSTRAINT "branch_clinic_id_id_key" UNIQUE USING INDEX "branch_clinic_id_id_key";
ALTER TABLE "therapist" ADD CONSTRAINT "therapist_clinic_id_id_key" UNIQUE USING INDEX "therapist_clinic_id_id_key";
ALTER TABLE "patient" ADD CONSTRAINT "patient_clinic_id_id_key" UNIQUE USING INDEX "patient_clinic_id_id_key";
ALTER TABLE "paquete" ADD CONSTRAINT "paquete_clinic_id_id_key" UNIQUE USING INDEX "paquete_clinic_id_id_key";
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_id_id_key" UNIQUE USING INDEX "appointment_clinic_id_id_key";
ALTER TABLE "payment" ADD CONSTRAINT "payment_clinic_id_id_key" UNIQUE USING INDEX "payment_clinic_id_id_key";
ALTER TABLE "therapist" ADD CONSTRAINT "therapist_clinic_branch_fkey" FOREIGN KEY ("clinic_id", "branch_id") REFERENCES "branch" ("clinic_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_patient_fkey" FOREIGN KEY ("clinic_id", "patient_id") REFERENCES "patient" ("clinic_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_therapist_fkey" FOREIGN KEY ("clinic_id", "therapist_id") REFERENCES "therapist" ("clinic_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_branch_fkey" FOREIGN KEY ("clinic_id", "branch_id") REFERENCES "branch" ("clinic_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
-- SET NULL of the reference column only: clinic_id stays (Postgres 15+).
ALTER TABLE "appointment" ADD CONSTRAINT "appointment_clinic_paquete_fkey" FOREIGN KEY ("clinic_id", "paquete_id") REFERENCES "paquete" ("clinic_id", "id") ON DELETE SET NULL ("paquete_id") ON UPDATE CASCADE NOT VALID;
ALTER TABLE "payment" ADD CONSTRAINT "payment_clinic_appointment_fkey" FOREIGN KEY ("clinic_id", "appointment_id") REFERENCES "appointment" ("clinic_id", "id") ON DELETE SET NULL ("appointment_id") ON UPDATE CASCADE NOT VALID;
ALTER TABLE "payment" ADD CONSTRAINT "payment_clinic_patient_fkey" FOREIGN KEY ("clinic_id", "patient_id") REFERENCES "patient" ("clinic_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
