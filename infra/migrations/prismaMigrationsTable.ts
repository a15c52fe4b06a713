import type { ClientBase } from "pg";

/**
 * Prisma's bookkeeping, byte for byte: the table `prisma migrate deploy` creates on Postgres, and the advisory lock
 * key it takes (which the platform only looks for in pg_locks: it takes no advisory lock itself).
 */
export const PRISMA_ADVISORY_LOCK_KEY = 72707369;
/** How long Prisma waits for that lock before failing with P1002: the patience the platform's migration lease copies. */
export const PRISMA_ADVISORY_LOCK_TIMEOUT_MS = 10_000;

export const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationRecord {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

export async function readMigrationRecords(client: ClientBase): Promise<MigrationRecord[]> {
  return (await client.query<MigrationRecord>('SELECT * FROM "_prisma_migrations" ORDER BY "started_at", "migration_name"')).rows;
}

/** A row that started, did not finish and was not marked rolled back: Prisma's "failed migration" (P3009). */
export const isFailed = (r: MigrationRecord): boolean => r.finished_at === null && r.rolled_back_at === null;
export const isApplied = (r: MigrationRecord): boolean => r.finished_at !== null && r.rolled_back_at === null;
