-- Issue 10: offboarding. Erasure evidence for each offboarded tenant (who, when, what was deleted where, the
-- export's checksums, and where copies remain and until when). Control data: nothing for PUBLIC or the app.
CREATE TABLE IF NOT EXISTS "bloom_platform"."erasure_log" (
    "id" BIGINT GENERATED ALWAYS AS IDENTITY,
    "tenant_id" TEXT NOT NULL,
    "erased_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "erased_by" TEXT NOT NULL,
    "evidence" JSONB NOT NULL,
    CONSTRAINT "erasure_log_pkey" PRIMARY KEY ("id")
);
