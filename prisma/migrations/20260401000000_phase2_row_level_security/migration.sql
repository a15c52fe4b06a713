-- Playbook phase 2: row-level security. ENABLE + FORCE so the table owner is bound too; the tenant comes from the
-- session setting app.clinic_id (unset or '' means no tenant, which sees and changes nothing). The app role has
-- no BYPASSRLS; the migrator does, for migrations and backfills.
ALTER TABLE "clinic" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "clinic" FORCE ROW LEVEL SECURITY;
CREATE POLICY "clinic_tenant_isolation" ON "clinic"
    USING ("id" = nullif(current_setting('app.clinic_id', true), ''))
    WITH CHECK ("id" = nullif(current_setting('app.clinic_id', true), ''));

ALTER TABLE "user" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "user" FORCE ROW LEVEL SECURITY;
CREATE POLICY "user_tenant_isolation" ON "user"
    USING ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''))
    WITH CHECK ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''));

ALTER TABLE "branch" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "branch" FORCE ROW LEVEL SECURITY;
CREATE POLICY "branch_tenant_isolation" ON "branch"
    USING ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''))
    WITH CHECK ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''));

ALTER TABLE "therapist" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "therapist" FORCE ROW LEVEL SECURITY;
CREATE POLICY "therapist_tenant_isolation" ON "therapist"
    USING ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''))
    WITH CHECK ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''));

ALTER TABLE "patient" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "patient" FORCE ROW LEVEL SECURITY;
CREATE POLICY "patient_tenant_isolation" ON "patient"
    USING ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''))
    WITH CHECK ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''));

ALTER TABLE "paquete" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "paquete" FORCE ROW LEVEL SECURITY;
CREATE POLICY "paquete_tenant_isolation" ON "paquete"
    USING ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''))
    WITH CHECK ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''));

ALTER TABLE "appointment" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "appointment" FORCE ROW LEVEL SECURITY;
CREATE POLICY "appointment_tenant_isolation" ON "appointment"
    USING ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''))
    WITH CHECK ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''));

ALTER TABLE "payment" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "payment" FORCE ROW LEVEL SECURITY;
CREATE POLICY "payment_tenant_isolation" ON "payment"
    USING ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''))
    WITH CHECK ("clinic_id" = nullif(current_setting('app.clinic_id', true), ''));
