-- Playbook phase 1: composite uniques, step 2: promote the ready indexes to constraints (a catalog change only).
ALTER TABLE "user" ADD CONSTRAINT "user_clinic_id_email_key" UNIQUE USING INDEX "user_clinic_id_email_key";
ALTER TABLE "paquete" ADD CONSTRAINT "paquete_clinic_id_name_key" UNIQUE USING INDEX "paquete_clinic_id_name_key";
