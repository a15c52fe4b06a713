-- Issue 21: an online move's freeze re-verifies only the rows that changed since its copy. The copy is verified
-- row for row against the source at the copy's snapshot before the fence; from then on, a trigger the move puts on
-- the target's tenant tables records the key of every row the subscription inserts, updates or deletes there, and
-- under the fence only those rows are compared with the source. The move creates and drops the triggers
-- (infra/tenancy/move/changeCapture.ts); the table and the function are the platform's, out of the app's reach.
CREATE TABLE IF NOT EXISTS "bloom_platform"."move_changes" (
    "move" TEXT NOT NULL,
    "table_name" TEXT NOT NULL,
    "key" JSONB NOT NULL,
    -- The first change of a key tells whether a row had that key when the copy loaded (an UPDATE or DELETE's old
    -- row, unchanged since the load: any earlier change would have recorded the key already).
    "loaded" BOOLEAN NOT NULL,
    CONSTRAINT "move_changes_pkey" PRIMARY KEY ("move", "table_name", "key")
);
REVOKE ALL ON TABLE "bloom_platform"."move_changes" FROM PUBLIC;

-- TG_ARGV: the move, then the table's replica-identity columns (the key the subscriber finds rows by).
CREATE OR REPLACE FUNCTION "bloom_platform"."capture_move_change"() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    -- The old row (UPDATE, DELETE: it had the key when the copy loaded, if this is the key's first change) and the
    -- new one (INSERT, UPDATE); the other is NULL.
    versions JSONB[] := ARRAY[pg_catalog.to_jsonb(OLD), pg_catalog.to_jsonb(NEW)];
    k JSONB;
    i INT;
    j INT;
BEGIN
    FOR j IN 1 .. 2 LOOP
        CONTINUE WHEN versions[j] IS NULL;
        k := '{}'::jsonb;
        FOR i IN 1 .. TG_NARGS - 1 LOOP k := k || pg_catalog.jsonb_build_object(TG_ARGV[i], versions[j] -> TG_ARGV[i]); END LOOP;
        INSERT INTO "bloom_platform"."move_changes" ("move", "table_name", "key", "loaded")
            VALUES (TG_ARGV[0], TG_TABLE_NAME, k, j = 1) ON CONFLICT DO NOTHING;
    END LOOP;
    RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION "bloom_platform"."capture_move_change"() FROM PUBLIC;
