-- Issue 9: the platform's own data moves out of the app's reach. The schema bloom_platform belongs to the migrator
-- and grants nothing to PUBLIC; the app role gets no privilege on it (see infra/database/sql/appPrivileges.ts).
CREATE SCHEMA IF NOT EXISTS "bloom_platform";
REVOKE ALL ON SCHEMA "bloom_platform" FROM PUBLIC;

ALTER TABLE "public"."bloom_tenancy_settings" SET SCHEMA "bloom_platform";
ALTER TABLE "bloom_platform"."bloom_tenancy_settings" RENAME TO "tenancy_settings";
ALTER TABLE "public"."bloom_tenantless_access" SET SCHEMA "bloom_platform";
ALTER TABLE "bloom_platform"."bloom_tenantless_access" RENAME TO "tenantless_access";

-- The backfill creates its progress table on demand (it may have run before this migration, in either place).
DO $move$
BEGIN
    IF to_regclass('public.bloom_backfill_progress') IS NOT NULL AND to_regclass('bloom_platform.backfill_progress') IS NULL THEN
        ALTER TABLE "public"."bloom_backfill_progress" SET SCHEMA "bloom_platform";
        ALTER TABLE "bloom_platform"."bloom_backfill_progress" RENAME TO "backfill_progress";
    END IF;
END
$move$;

-- Restore now re-creates policies from code (infra/tenancy/tenantPolicies.ts); a table of SQL to run is gone.
DROP TABLE IF EXISTS "public"."bloom_rls_saved_policies";

-- A key the app cannot read: the shadow counter's per-transaction marker is derived from it, so a session cannot
-- pre-set the marker and read uncounted. One row, so the default's rewrite is of one row.
ALTER TABLE "bloom_platform"."tenancy_settings" ADD COLUMN "marker_key" TEXT NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text);

-- Temp schemas come first in name lookup for relations: no role may create temp tables here unless granted.
-- CREATE on public is the PG 15 default already; older servers granted it to PUBLIC.
DO $db$
BEGIN
    EXECUTE format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM PUBLIC', current_database());
END
$db$;
REVOKE CREATE ON SCHEMA "public" FROM PUBLIC;

-- Evaluated by the policies for tenant-less rows only. SECURITY DEFINER so the caller can record a hit without any
-- right on bloom_platform; search_path holds only pg_catalog (pg_temp last) and every name is qualified.
CREATE OR REPLACE FUNCTION "public"."bloom_tenantless_allowed"(tbl TEXT) RETURNS BOOLEAN
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    settings RECORD;
    marker TEXT;
BEGIN
    SELECT s."mode", s."marker_key" INTO settings FROM "bloom_platform"."tenancy_settings" s WHERE s."id";
    IF settings."mode" IS DISTINCT FROM 'shadow' THEN
        RETURN false;
    END IF;
    -- Once per table and transaction: now() is the transaction's start, the backend pid the session's.
    marker := pg_catalog.md5(settings."marker_key" || ':' || pg_catalog.pg_backend_pid()::text || ':' || pg_catalog.now()::text || ':' || tbl);
    IF pg_catalog.current_setting('bloom.tenantless_seen.' || tbl, true) IS DISTINCT FROM marker THEN
        -- Only tenant tables get a counter: a made-up name is refused, not recorded.
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
                       WHERE c.relnamespace = 'public'::pg_catalog.regnamespace AND c.relname = tbl AND c.relkind = 'r'
                         AND a.attname = 'clinic_id' AND NOT a.attisdropped) THEN
            RETURN false;
        END IF;
        PERFORM pg_catalog.set_config('bloom.tenantless_seen.' || tbl, marker, true);
        INSERT INTO "bloom_platform"."tenantless_access" ("table_name", "hits", "last_at") VALUES (tbl, 1, pg_catalog.now())
            ON CONFLICT ("table_name") DO UPDATE SET "hits" = "bloom_platform"."tenantless_access"."hits" + 1, "last_at" = pg_catalog.now();
    END IF;
    RETURN true;
END
$fn$;

-- EXECUTE only for the roles that use the tenant tables (the app role: the platform grants it again from its
-- allow-list); granted here first so running app instances never see a moment without it.
REVOKE ALL ON FUNCTION "public"."bloom_tenantless_allowed"(TEXT) FROM PUBLIC;
DO $exec$
DECLARE r RECORD;
BEGIN
    FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
             WHERE table_schema = 'public' AND table_name = 'patient' AND privilege_type = 'SELECT' AND grantee <> current_user AND grantee <> 'PUBLIC'
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION "public"."bloom_tenantless_allowed"(TEXT) TO %I', r.grantee);
    END LOOP;
END
$exec$;
