import type { Client } from "pg";

/**
 * Coordination the app cannot take part in: a lease is a committed row in `bloom_platform.leases` (holder, fencing
 * token, expiry), never an advisory key — any role can take any advisory key and sit on it, and the platform
 * would wait — and never a row lock held open, which is itself an old transaction a fence would wait for.
 * The app has no privilege on bloom_platform, so it can neither read nor hold a lease.
 *
 * A lease is bound to the holder's database session (free again as soon as that session ends: a killed
 * process releases it with its connection, as an advisory lock did), to a time (`ttlMs`, renewed by its holder:
 * for holders without a session, e.g. a workflow id), or to both (`ttlMs` with `sessionBound`: free when either
 * ends — a killed holder frees it at once, a frozen one when it stops renewing). Each acquisition increments the
 * name's `token`, so a holder that lost its lease can tell by its token, and a write guarded by `leaseGuardSql`
 * commits only while the token it names still holds the lease.
 */
export interface Lease {
  name: string;
  token: number;
  /** Extends a time-bound lease; false when it was lost (expired and taken) in between. */
  renew(ttlMs?: number): Promise<boolean>;
  /** Whether this token still holds the lease (not taken over, not expired). */
  held(): Promise<boolean>;
  release(): Promise<void>;
}

export interface LeaseOptions {
  ttlMs?: number;
  /** With `ttlMs`: bound to the session too. Without `ttlMs`, a lease is always session-bound. */
  sessionBound?: boolean;
  /**
   * Set as the session's application_name in the statement that acquires the lease (and only if it does), so the
   * holder's sessions can be told from a waiter's from the first instant it holds the lease (see moveLease.ts).
   */
  sessionTag?: string;
}

export interface LeaseHolder {
  holder: string;
  pid: number | null;
  since: Date;
  expiresAt: Date | null;
}

export class LeaseHeldError extends Error {
  constructor(readonly lease: string, readonly heldBy: LeaseHolder | undefined, waitedMs: number) {
    super(`lease "${lease}" is held by ${heldBy ? `${heldBy.holder}${heldBy.pid ? ` (pid ${heldBy.pid})` : ""} since ${heldBy.since.toISOString()}` : "another holder"}; gave up after ${waitedMs} ms`);
    this.name = "LeaseHeldError";
  }
}

const TABLE = `"bloom_platform"."leases"`;
// What concurrent first creations of the same schema/table fail with: the loser retries and finds it made.
const CREATE_RACE = new Set(["23505", "42P07", "42P06", "42710"]);

/**
 * Creates the lease table (and the schema) if missing: the migration lease is taken before the first migration
 * has created bloom_platform. Concurrent first deploys may race on the CREATE; the loser finds it made.
 */
export async function ensureLeaseTable(c: Client): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if ((await c.query<{ ok: boolean }>(`SELECT to_regclass('bloom_platform.leases') IS NOT NULL AS ok`)).rows[0]!.ok) return;
    try {
      await c.query(`CREATE SCHEMA IF NOT EXISTS "bloom_platform"`);
      await c.query(`REVOKE ALL ON SCHEMA "bloom_platform" FROM PUBLIC`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
        "name" TEXT PRIMARY KEY, "holder" TEXT NOT NULL, "token" BIGINT NOT NULL,
        "holder_pid" INTEGER, "holder_backend_start" TIMESTAMPTZ, "expires_at" TIMESTAMPTZ,
        "acquired_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT "leases_bound" CHECK ("holder_pid" IS NOT NULL OR "expires_at" IS NOT NULL))`);
      await c.query(`REVOKE ALL ON ${TABLE} FROM PUBLIC`);
      return;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const raced = CREATE_RACE.has(e.code ?? "") || /tuple concurrently updated/.test(e.message ?? "");
      if (!raced || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    }
  }
}

/** One attempt: the lease if it was free (or its holder's session or time is gone, or this session holds it). */
export async function tryAcquireLease(c: Client, name: string, holder: string, opts: LeaseOptions = {}): Promise<Lease | undefined> {
  await ensureLeaseTable(c);
  const sessionBound = opts.ttlMs === undefined || opts.sessionBound === true;
  const timeBound = opts.ttlMs !== undefined;
  const { rows } = await c.query<{ token: string }>(
    `WITH acquired AS (
     INSERT INTO ${TABLE} AS l ("name", "holder", "token", "holder_pid", "holder_backend_start", "expires_at")
     SELECT $1, $2, 1, CASE WHEN $3 THEN a.pid END, CASE WHEN $3 THEN a.backend_start END,
            CASE WHEN $5 THEN now() + make_interval(secs => $4::double precision / 1000) END
     FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid()
     ON CONFLICT ("name") DO UPDATE SET "holder" = EXCLUDED."holder", "token" = l."token" + 1, "holder_pid" = EXCLUDED."holder_pid",
       "holder_backend_start" = EXCLUDED."holder_backend_start", "expires_at" = EXCLUDED."expires_at", "acquired_at" = now()
     WHERE (l."expires_at" IS NOT NULL AND l."expires_at" < now())
        OR (l."holder_pid" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
              WHERE a.pid = l."holder_pid" AND a.backend_start = l."holder_backend_start"))
        OR (l."holder_pid" = pg_catalog.pg_backend_pid() AND l."holder" = EXCLUDED."holder")
     RETURNING "token")
     SELECT "token", CASE WHEN $6::text IS NOT NULL THEN pg_catalog.set_config('application_name', $6::text, false) END AS tagged FROM acquired`,
    [name, holder, sessionBound, opts.ttlMs ?? 0, timeBound, opts.sessionTag ?? null]);
  if (!rows[0]) return undefined;
  const token = Number(rows[0].token);
  return {
    name,
    token,
    async renew(ttlMs = opts.ttlMs ?? 60_000) {
      if (!timeBound) return true;
      const res = await c.query(`UPDATE ${TABLE} SET "expires_at" = now() + make_interval(secs => $3::double precision / 1000)
        WHERE "name" = $1 AND "token" = $2`, [name, token, ttlMs]); // expired but not taken: still this holder's
      return res.rowCount === 1;
    },
    async held() {
      const { rows } = await c.query<{ held: boolean }>(`SELECT ${leaseGuardSql(1, 2)} AS "held"`, [name, token]);
      return rows[0]!.held;
    },
    async release() {
      await c.query(`DELETE FROM ${TABLE} WHERE "name" = $1 AND "token" = $2`, [name, token]);
    },
  };
}

/**
 * A condition for a write on the lease's database: true while the token in parameters `$name`, `$token` holds the
 * lease. It locks the lease row for the write's transaction, so a takeover waits for the write and then sees it.
 */
export const leaseGuardSql = (nameParam: number, tokenParam: number) =>
  `EXISTS (SELECT 1 FROM ${TABLE} WHERE "name" = $${nameParam} AND "token" = $${tokenParam} AND ("expires_at" IS NULL OR "expires_at" > now()) FOR SHARE)`;

/** Polls for the lease until `waitMs` has passed (a killed holder's server session ends a moment after it). */
export async function acquireLease(c: Client, name: string, holder: string, opts: LeaseOptions & { waitMs?: number } = {}): Promise<Lease> {
  const start = Date.now();
  for (;;) {
    const lease = await tryAcquireLease(c, name, holder, opts);
    if (lease) return lease;
    if (Date.now() - start >= (opts.waitMs ?? 10_000)) throw new LeaseHeldError(name, await leaseHolder(c, name), Date.now() - start);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function leaseHolder(c: Client, name: string): Promise<LeaseHolder | undefined> {
  const { rows } = await c.query<{ holder: string; pid: number | null; since: Date; expires_at: Date | null }>(
    `SELECT "holder", "holder_pid" AS pid, "acquired_at" AS since, "expires_at" FROM ${TABLE} WHERE "name" = $1`, [name]);
  return rows[0] && { holder: rows[0].holder, pid: rows[0].pid, since: rows[0].since, expiresAt: rows[0].expires_at };
}
