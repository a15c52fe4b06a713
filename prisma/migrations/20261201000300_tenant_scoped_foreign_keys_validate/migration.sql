-- Issue 9: tenant-scoped keys, step 3 of 4. VALIDATE scans under SHARE UPDATE EXCLUSIVE: writes go on.
ALTER TABLE "therapist" VALIDATE CONSTRAINT "therapist_clinic_branch_fkey";
ALTER TABLE "appointment" VALIDATE CONSTRAINT "appointment_clinic_patient_fkey";
ALTER TABLE "appointment" VALIDATE CONSTRAINT "appointment_clinic_therapist_fkey";
ALTER TABLE "appointment" VALIDATE CONSTRAINT "appointment_clinic_branch_fkey";
ALTER TABLE "appointment" VALIDATE CONSTRAINT "appointment_clinic_paquete_fkey";
ALTER TABLE "payment" VALIDATE CONSTRAINT "payment_clinic_appointment_fkey";
ALTER TABLE "payment" VALIDATE CONSTRAINT "payment_clinic_patient_fkey";
