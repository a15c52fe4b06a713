-- Issue 11 (found building it): a fence must not be passed by a write already in flight. A transaction whose
-- trigger checked the fences just before the fence committed could commit after it: acknowledged to the app, yet
-- missing from a copy taken after the fence (and purged with the old copy later), or past the LSN an online move
-- waits for. Each fenced-table write of a non-owner now holds a shared per-tenant advisory lock until its
-- transaction ends, taken before it checks; fencing takes that lock exclusively after writing the fence, so it
-- returns only once every write that passed the check has committed or rolled back.
CREATE OR REPLACE FUNCTION "bloom_platform"."refuse_fenced_write"() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tenant TEXT;
    why TEXT;
BEGIN
    -- The table owner (the migrator: copies and purges) passes without a lock.
    IF pg_catalog.pg_has_role(session_user, (SELECT c."relowner" FROM pg_catalog.pg_class c WHERE c."oid" = TG_RELID), 'MEMBER') THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN tenant := OLD."clinic_id"; ELSE tenant := NEW."clinic_id"; END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(pg_catalog.hashtext('bloom-tenant-fence'), pg_catalog.hashtext(tenant));
    SELECT f."reason" INTO why FROM "bloom_platform"."tenant_fences" f WHERE f."tenant_id" = tenant;
    IF why IS NULL AND TG_OP = 'UPDATE' AND OLD."clinic_id" IS DISTINCT FROM NEW."clinic_id" THEN
        tenant := OLD."clinic_id";
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(pg_catalog.hashtext('bloom-tenant-fence'), pg_catalog.hashtext(tenant));
        SELECT f."reason" INTO why FROM "bloom_platform"."tenant_fences" f WHERE f."tenant_id" = tenant;
    END IF;
    IF why IS NOT NULL THEN
        RAISE EXCEPTION 'tenant % is in maintenance (%): its writes are refused in this database; retry shortly', tenant, why
            USING ERRCODE = 'BL503', HINT = 'Retryable: resolve the tenant''s connection again (bloom_tenant_location) and retry the transaction.';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION "bloom_platform"."refuse_fenced_write"() FROM PUBLIC;
