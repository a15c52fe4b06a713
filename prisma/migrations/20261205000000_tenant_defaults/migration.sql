-- The app runtime (issue 17). 1) A row created without clinic_id belongs to the transaction's tenant
-- (app.clinic_id, set per transaction by the tenant runtime) instead of silently to the legacy clinic; without a
-- tenant it still gets 'legacy', which playbook phases 1–2 need until the legacy clinic carries its own clinicId
-- (phase 2 step 5). Setting a default is a catalog change only: no rewrite, no scan.
-- 2) The app may read the database's tenancy mode (shadow | enforce) through one function, as it reads a tenant's
-- location: SECURITY DEFINER with a pinned search_path, EXECUTE for the app role only (infra/database/sql/appPrivileges.ts).
ALTER TABLE "user" ALTER COLUMN "clinic_id" SET DEFAULT COALESCE(NULLIF(current_setting('app.clinic_id', true), ''), 'legacy');
ALTER TABLE "branch" ALTER COLUMN "clinic_id" SET DEFAULT COALESCE(NULLIF(current_setting('app.clinic_id', true), ''), 'legacy');
ALTER TABLE "therapist" ALTER COLUMN "clinic_id" SET DEFAULT COALESCE(NULLIF(current_setting('app.clinic_id', true), ''), 'legacy');
ALTER TABLE "patient" ALTER COLUMN "clinic_id" SET DEFAULT COALESCE(NULLIF(current_setting('app.clinic_id', true), ''), 'legacy');
ALTER TABLE "paquete" ALTER COLUMN "clinic_id" SET DEFAULT COALESCE(NULLIF(current_setting('app.clinic_id', true), ''), 'legacy');
ALTER TABLE "appointment" ALTER COLUMN "clinic_id" SET DEFAULT COALESCE(NULLIF(current_setting('app.clinic_id', true), ''), 'legacy');
ALTER TABLE "payment" ALTER COLUMN "clinic_id" SET DEFAULT COALESCE(NULLIF(current_setting('app.clinic_id', true), ''), 'legacy');

CREATE OR REPLACE FUNCTION "public"."bloom_tenancy_mode"() RETURNS TEXT
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT s."mode" FROM "bloom_platform"."tenancy_settings" s WHERE s."id"
$fn$;
REVOKE ALL ON FUNCTION "public"."bloom_tenancy_mode"() FROM PUBLIC;
