-- Issue 22: the fence holds whatever snapshot a writer uses. The trigger read the fences with the writer's
-- snapshot, so a transaction begun after a fence but running on a snapshot exported before it
-- (SET TRANSACTION SNAPSHOT) saw no fence and wrote — and was not among the transactions the fence waited for.
-- Each fence now also records its transaction id in a sequence, which is read outside any snapshot: a writer whose
-- snapshot does not see the latest committed fence cannot tell whether its tenant is fenced, and is refused with
-- the same retryable BL503. Under READ COMMITTED every statement's snapshot is new, so this refuses nothing
-- there; only a REPEATABLE READ / SERIALIZABLE snapshot older than a fence is refused. Fences are serialized by a
-- table lock the app cannot take, so the latest fence recorded is the latest committed.
CREATE SEQUENCE IF NOT EXISTS "bloom_platform"."latest_fence_xid" AS BIGINT MINVALUE 1 START WITH 1;
REVOKE ALL ON SEQUENCE "bloom_platform"."latest_fence_xid" FROM PUBLIC;

CREATE OR REPLACE FUNCTION "bloom_platform"."refuse_fenced_write"() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tenant TEXT;
    why TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN tenant := OLD."clinic_id"; ELSE tenant := NEW."clinic_id"; END IF;
    -- One statement, so the fence read and the snapshot test use the same snapshot.
    SELECT coalesce((SELECT f."reason" FROM "bloom_platform"."tenant_fences" f WHERE f."tenant_id" = tenant),
                    CASE WHEN pg_catalog.pg_visible_in_snapshot(s.x, pg_catalog.pg_current_snapshot()) THEN NULL
                         WHEN pg_catalog.pg_xact_status(s.x) = 'committed' THEN 'a fence newer than this transaction''s snapshot' END)
      INTO why
      FROM (SELECT q."last_value"::text::xid8 AS x FROM "bloom_platform"."latest_fence_xid" q) s;
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
