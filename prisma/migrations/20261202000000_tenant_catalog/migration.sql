-- Issue 10: the tenant catalog as control data in the platform's schema (not app-writable): what each tenant is
-- and where its data lives. The platform writes it on `up` (one row per declared tenant, with its clinic row).
CREATE TABLE IF NOT EXISTS "bloom_platform"."tenants" (
    "id" TEXT NOT NULL,
    "isolation" TEXT NOT NULL,
    "location" JSONB NOT NULL,
    "move_state" TEXT NOT NULL DEFAULT 'settled',
    "move_started_at" TIMESTAMPTZ,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT "tenants_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "tenants_isolation" CHECK ("isolation" IN ('pooled', 'dedicated')),
    CONSTRAINT "tenants_move_state" CHECK ("move_state" IN ('settled', 'extracting', 'returning'))
);

-- What routing needs, for one tenant at a time: the app has no right on the catalog itself.
CREATE OR REPLACE FUNCTION "public"."bloom_tenant_location"(tenant TEXT)
    RETURNS TABLE ("isolation" TEXT, "location" JSONB, "move_state" TEXT)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT t."isolation", t."location", t."move_state" FROM "bloom_platform"."tenants" t WHERE t."id" = tenant
$fn$;
REVOKE ALL ON FUNCTION "public"."bloom_tenant_location"(TEXT) FROM PUBLIC;
