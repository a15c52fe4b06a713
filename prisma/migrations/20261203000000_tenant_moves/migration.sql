-- Issue 10: moving a tenant between databases (pool <-> dedicated).
-- A fence refuses a tenant's writes in this database while it moves, and at the location it left once it has moved,
-- whatever an app instance has cached. The trigger on each tenant table is installed by the platform after every
-- migration deploy (infra/tenancy/tenantFence.ts), so tables added later are fenced too.
CREATE TABLE IF NOT EXISTS "bloom_platform"."tenant_fences" (
    "tenant_id" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "since" TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT "tenant_fences_pkey" PRIMARY KEY ("tenant_id")
);

-- Fences the app only: the table owner (the migrator: copy, purge) and superusers pass. SQLSTATE BL503 is the
-- documented retryable "tenant in maintenance" error (docs/app-runtime.md).
CREATE OR REPLACE FUNCTION "bloom_platform"."refuse_fenced_write"() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tenant TEXT;
    why TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN tenant := OLD."clinic_id"; ELSE tenant := NEW."clinic_id"; END IF;
    SELECT f."reason" INTO why FROM "bloom_platform"."tenant_fences" f WHERE f."tenant_id" = tenant;
    IF why IS NULL AND TG_OP = 'UPDATE' AND OLD."clinic_id" IS DISTINCT FROM NEW."clinic_id" THEN
        tenant := OLD."clinic_id";
        SELECT f."reason" INTO why FROM "bloom_platform"."tenant_fences" f WHERE f."tenant_id" = tenant;
    END IF;
    IF why IS NOT NULL AND NOT pg_catalog.pg_has_role(session_user,
            (SELECT c."relowner" FROM pg_catalog.pg_class c WHERE c."oid" = TG_RELID), 'MEMBER') THEN
        RAISE EXCEPTION 'tenant % is in maintenance (%): its writes are refused in this database; retry shortly', tenant, why
            USING ERRCODE = 'BL503', HINT = 'Retryable: resolve the tenant''s connection again (bloom_tenant_location) and retry the transaction.';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION "bloom_platform"."refuse_fenced_write"() FROM PUBLIC;

-- The move's journal (each step recorded, so a crashed move resumes) and the copy left behind for purging.
ALTER TABLE "bloom_platform"."tenants"
    ADD COLUMN IF NOT EXISTS "move" JSONB,
    ADD COLUMN IF NOT EXISTS "pending_purge" JSONB;
