import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { FailedMigrationsError, MigrationLockHeldError, MigrationFailedError, ResolveError } from "./migrationErrors";
import { checksumMatches, type Migration } from "./migrationSource";
import { CREATE_MIGRATIONS_TABLE, isApplied, isFailed, PRISMA_ADVISORY_LOCK_KEY, PRISMA_ADVISORY_LOCK_TIMEOUT_MS, readMigrationRecords } from "./prismaMigrationsTable";
import { splitSqlStatements } from "./sqlStatements";
import { acquireLease, LeaseHeldError, type Lease } from "../coordination/lease";
import { terminateForeignSessions } from "../coordination/foreignSessions";

/**
 * `prisma migrate deploy`, reimplemented because Prisma's schema engine cannot be downloaded here — with the same
 * bookkeeping, order, lock and refusal to continue past a failed migration. Each transactional file runs in one
 * transaction together with its `finished_at` update, so a file is either applied and recorded, or neither.
 */
export interface DeployOptions {
  /** Label for messages: which database this is (never the URL, it holds a password). */
  database: string;
  /** How long one statement may wait for a lock before the file is retried (pgroll-style short lock waits). */
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** Retries of a transactional file that failed on lock_timeout, with backoff. */
  lockRetries?: number;
  /**
   * An app transaction open longer than this that makes a file miss its lock is ended before the next retry
   * (the app can lift its own timeouts; default 30 s). The platform's own sessions are never ended.
   */
  terminateAppSessionsAfterMs?: number;
  /** How long to wait for another deploy's migration lease before failing with P1002, as Prisma waits (10 s). */
  migrationLockTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface DeployResult {
  applied: string[];
  alreadyApplied: number;
  warnings: string[];
  /** Time spent waiting for another deploy's migration lease. */
  lockWaitMs: number;
}

const LOCK_NOT_AVAILABLE = "55P03";

export async function applyPendingMigrations(url: string, migrations: Migration[], opts: DeployOptions): Promise<DeployResult> {
  const log = opts.log ?? (() => undefined);
  const client = new Client({ connectionString: url, application_name: "bloom-migrate" });
  await client.connect();
  try {
    await client.query(`SET lock_timeout = ${Math.max(1, opts.lockTimeoutMs ?? 5_000)}`);
    await client.query(`SET statement_timeout = ${Math.max(0, opts.statementTimeoutMs ?? 30 * 60_000)}`);
    const waitStart = Date.now();
    const lock = await acquireMigrationLock(client, opts.database, opts.migrationLockTimeoutMs, log);
    const lockWaitMs = Date.now() - waitStart;
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      const records = await readMigrationRecords(client);
      const failed = records.filter(isFailed);
      if (failed.length) throw new FailedMigrationsError(opts.database, failed.map((r) => ({ name: r.migration_name, startedAt: r.started_at, logs: r.logs })));

      const warnings: string[] = [];
      const appliedByName = new Map(records.filter(isApplied).map((r) => [r.migration_name, r]));
      const local = new Set(migrations.map((m) => m.name));
      for (const m of migrations) {
        const rec = appliedByName.get(m.name);
        if (rec && !checksumMatches(rec.checksum, m.sql)) warnings.push(`${opts.database}: migration \`${m.name}\` was modified after it was applied (checksum ${rec.checksum.slice(0, 12)}… recorded, ${m.checksum.slice(0, 12)}… on disk)`);
      }
      for (const name of appliedByName.keys()) if (!local.has(name)) warnings.push(`${opts.database}: migration \`${name}\` is applied in the database but missing from the migrations folder`);
      warnings.forEach((w) => log(`warning: ${w}`));

      const pending = migrations.filter((m) => !appliedByName.has(m.name));
      const applied: string[] = [];
      for (const m of pending) {
        log(`${opts.database}: applying ${m.name}`);
        await applyOne(client, m, opts);
        applied.push(m.name);
      }
      if (!pending.length) log(`${opts.database}: no pending migrations`);
      return { applied, alreadyApplied: appliedByName.size, warnings, lockWaitMs };
    } finally {
      await lock.release();
    }
  } finally {
    await client.end();
  }
}

async function applyOne(client: Client, m: Migration, opts: DeployOptions): Promise<void> {
  const id = randomUUID();
  await client.query(
    'INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "applied_steps_count") VALUES ($1, $2, $3, now(), 0)',
    [id, m.checksum, m.name],
  );
  const finish = 'UPDATE "_prisma_migrations" SET "finished_at" = now(), "applied_steps_count" = 1 WHERE "id" = $1';
  try {
    if (m.transactional) {
      await withLockRetries(client, opts, async () => {
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query(finish, [id]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw err;
        }
      });
    } else {
      // Each statement commits on its own; IF NOT EXISTS / IF EXISTS in such files make a resumed run safe.
      for (const statement of splitSqlStatements(m.sql)) await withLockRetries(client, opts, () => client.query(statement).then(() => undefined));
      await client.query(finish, [id]);
    }
  } catch (err) {
    const e = err as Error & { code?: string; position?: string };
    const logs = `${e.message}${e.code ? `\nSQLSTATE ${e.code}` : ""}${e.position ? ` at character ${e.position}` : ""}`;
    await client.query('UPDATE "_prisma_migrations" SET "logs" = $2 WHERE "id" = $1', [id, logs]);
    throw new MigrationFailedError(opts.database, m.name, e);
  }
}

async function withLockRetries(client: Client, opts: DeployOptions, work: () => Promise<void>): Promise<void> {
  const retries = opts.lockRetries ?? 5;
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE || attempt >= retries) throw err;
      await endStaleAppTransactions(client, opts);
      const delay = Math.round(Math.random() * 200 * 2 ** attempt);
      opts.log?.(`${opts.database}: lock not available, retrying in ${delay} ms (attempt ${attempt + 1}/${retries})`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** The app's transactions open past the bound, ended: one of them is what the file could not get its lock past. */
async function endStaleAppTransactions(client: Client, opts: DeployOptions): Promise<void> {
  const { rows } = await client.query<{ pid: number }>(
    `SELECT pid FROM pg_catalog.pg_stat_activity WHERE datname = current_database() AND pid <> pg_catalog.pg_backend_pid()
       AND xact_start < now() - make_interval(secs => $1::double precision / 1000)`, [opts.terminateAppSessionsAfterMs ?? 30_000]);
  await terminateForeignSessions(client, rows.map((r) => r.pid), `${opts.database}: deploying migrations`, opts.log ?? ((line) => console.warn(line)));
}

/**
 * Who may deploy: the migration lease (a committed row, infra/coordination/lease.ts) excludes the platform's own
 * deploys, with Prisma's patience — a second one waits up to 10 s, then fails with P1002. That lease is the only
 * thing waited for, and the platform takes no advisory lock at all: any role can take any advisory key and sit on
 * it (issue 22). Prisma's key (72707369) is only looked at in pg_locks, once: held by a session that could be
 * running `prisma migrate` (this role, a member of it, or a superuser), the deploy stops at once with P1002; held
 * only by sessions that cannot migrate (the app), it is reported and passed over. A `prisma migrate` started
 * during a deploy is not held off: the platform's runner is the one way migrations reach its databases.
 */
async function acquireMigrationLock(client: Client, database: string, timeoutMs = PRISMA_ADVISORY_LOCK_TIMEOUT_MS, log: (line: string) => void = () => undefined): Promise<{ release(): Promise<void> }> {
  const start = Date.now();
  let lease: Lease;
  try {
    lease = await acquireLease(client, "migrations", `migration deploy (${database})`, { waitMs: timeoutMs });
  } catch (err) {
    if (err instanceof LeaseHeldError) throw new MigrationLockHeldError(database, Date.now() - start, { lease: err.heldBy?.holder });
    throw err;
  }
  try {
    await refuseWhilePrismaMigrates(client, database, start, log);
  } catch (err) {
    await lease.release().catch(() => undefined);
    throw err;
  }
  return { release: () => lease.release().catch(() => undefined) };
}

/** Who holds Prisma's key in this database, read from pg_locks (no lock taken, nothing waited on). */
async function refuseWhilePrismaMigrates(client: Client, database: string, start: number, log: (line: string) => void): Promise<void> {
  const holders = (await client.query<{ pid: number; role: string; can_migrate: boolean }>(
    `SELECT l.pid, r.rolname AS role, (r.rolsuper OR pg_catalog.pg_has_role(r.oid, current_user, 'MEMBER')) AS can_migrate
     FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid
     WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1
       AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`, [PRISMA_ADVISORY_LOCK_KEY])).rows;
  if (!holders.length) return;
  const named = (hs: typeof holders) => hs.map((h) => `role ${h.role} (pid ${h.pid})`).join(", ");
  const migrating = holders.filter((h) => h.can_migrate);
  if (migrating.length) throw new MigrationLockHeldError(database, Date.now() - start, { prismaKeyHolders: named(migrating) });
  log(`warning: ${database}: Prisma's migration key is held by ${named(holders)}, which cannot run migrations: deploying under the migration lease without it`);
}

/** `prisma migrate resolve --rolled-back <name>` / `--applied <name>`. */
export async function resolveMigration(url: string, name: string, as: "rolled-back" | "applied", migrations: Migration[]): Promise<void> {
  const client = new Client({ connectionString: url, application_name: "bloom-migrate" });
  await client.connect();
  const lock = await acquireMigrationLock(client, `resolve ${name}`);
  try {
    await client.query(CREATE_MIGRATIONS_TABLE);
    const records = (await readMigrationRecords(client)).filter((r) => r.migration_name === name);
    const failed = records.filter(isFailed);
    if (as === "rolled-back") {
      if (!failed.length) throw new ResolveError("P3011", `migration \`${name}\` cannot be marked rolled back: it is not in a failed state`);
      await client.query('UPDATE "_prisma_migrations" SET "rolled_back_at" = now() WHERE "migration_name" = $1 AND "finished_at" IS NULL AND "rolled_back_at" IS NULL', [name]);
      return;
    }
    const local = migrations.find((m) => m.name === name);
    if (!local) throw new ResolveError("P3017", `migration \`${name}\` is not in the migrations folder`);
    if (records.some(isApplied)) throw new ResolveError("P3008", `migration \`${name}\` is already recorded as applied`);
    await client.query("BEGIN");
    await client.query('UPDATE "_prisma_migrations" SET "rolled_back_at" = now() WHERE "migration_name" = $1 AND "finished_at" IS NULL AND "rolled_back_at" IS NULL', [name]);
    await client.query(
      'INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "finished_at", "applied_steps_count") VALUES ($1, $2, $3, now(), now(), 0)',
      [randomUUID(), local.checksum, name],
    );
    await client.query("COMMIT");
  } finally {
    await lock.release();
    await client.end();
  }
}
