-- Playbook phase 2: shadow and enforce modes for row-level security, switchable without a migration.
-- A session with a tenant (app.clinic_id) sees and writes only that tenant's rows in both modes. A session without
-- one is allowed in shadow mode, and counted per table and transaction so the team can find the code paths that
-- still miss the tenant; in enforce mode it sees and changes nothing. The mode is one row, owned by the migrator:
-- the app role can read it but not change it.
CREATE TABLE "bloom_tenancy_settings" (
    "id" BOOLEAN NOT NULL DEFAULT true,
    "mode" TEXT NOT NULL DEFAULT 'shadow',
    "changed_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT "bloom_tenancy_settings_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "bloom_tenancy_settings_single_row" CHECK ("id"),
    CONSTRAINT "bloom_tenancy_settings_mode" CHECK ("mode" IN ('shadow', 'enforce'))
);
INSERT INTO "bloom_tenancy_settings" ("id", "mode") VALUES (true, 'shadow') ON CONFLICT ("id") DO NOTHING;

CREATE TABLE "bloom_tenantless_access" (
    "table_name" TEXT NOT NULL,
    "hits" BIGINT NOT NULL DEFAULT 0,
    "last_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT "bloom_tenantless_access_pkey" PRIMARY KEY ("table_name")
);

-- Evaluated only for tenant-less rows (see the policies' CASE); SECURITY DEFINER so the app role can record hits
-- without being able to write the tables itself.
CREATE FUNCTION "bloom_tenantless_allowed"(tbl TEXT) RETURNS BOOLEAN
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public
AS $fn$
BEGIN
    IF (SELECT "mode" FROM "bloom_tenancy_settings" WHERE "id") IS DISTINCT FROM 'shadow' THEN
        RETURN false;
    END IF;
    IF current_setting('bloom.tenantless_seen.' || tbl, true) IS NULL OR current_setting('bloom.tenantless_seen.' || tbl, true) = '' THEN
        PERFORM set_config('bloom.tenantless_seen.' || tbl, '1', true);
        INSERT INTO "bloom_tenantless_access" ("table_name", "hits", "last_at") VALUES (tbl, 1, now())
            ON CONFLICT ("table_name") DO UPDATE SET "hits" = "bloom_tenantless_access"."hits" + 1, "last_at" = now();
    END IF;
    RETURN true;
END
$fn$;
-- EXECUTE stays with PUBLIC: policies run it as the querying role, and all it can do is count a tenant-less access.

DROP POLICY IF EXISTS "user_tenant_isolation" ON "user";
CREATE POLICY "user_tenant_isolation" ON "user"
    USING (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('user')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END)
    WITH CHECK (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('user')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END);

DROP POLICY IF EXISTS "branch_tenant_isolation" ON "branch";
CREATE POLICY "branch_tenant_isolation" ON "branch"
    USING (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('branch')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END)
    WITH CHECK (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('branch')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END);

DROP POLICY IF EXISTS "therapist_tenant_isolation" ON "therapist";
CREATE POLICY "therapist_tenant_isolation" ON "therapist"
    USING (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('therapist')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END)
    WITH CHECK (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('therapist')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END);

DROP POLICY IF EXISTS "patient_tenant_isolation" ON "patient";
CREATE POLICY "patient_tenant_isolation" ON "patient"
    USING (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('patient')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END)
    WITH CHECK (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('patient')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END);

DROP POLICY IF EXISTS "paquete_tenant_isolation" ON "paquete";
CREATE POLICY "paquete_tenant_isolation" ON "paquete"
    USING (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('paquete')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END)
    WITH CHECK (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('paquete')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END);

DROP POLICY IF EXISTS "appointment_tenant_isolation" ON "appointment";
CREATE POLICY "appointment_tenant_isolation" ON "appointment"
    USING (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('appointment')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END)
    WITH CHECK (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('appointment')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END);

DROP POLICY IF EXISTS "payment_tenant_isolation" ON "payment";
CREATE POLICY "payment_tenant_isolation" ON "payment"
    USING (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('payment')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END)
    WITH CHECK (CASE WHEN nullif(current_setting('app.clinic_id', true), '') IS NULL THEN "bloom_tenantless_allowed"('payment')
                ELSE "clinic_id" = nullif(current_setting('app.clinic_id', true), '') END);

-- Default privileges gave the app role write access to the two new tables: take it back, so only the migrator can
-- switch modes or reset the counts (the app may still read both).
DO $grants$
DECLARE r RECORD;
BEGIN
    FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
             WHERE table_schema = 'public' AND table_name IN ('bloom_tenancy_settings', 'bloom_tenantless_access') AND grantee <> current_user
    LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON "bloom_tenancy_settings", "bloom_tenantless_access" FROM %I', r.grantee);
    END LOOP;
END
$grants$;
