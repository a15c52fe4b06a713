import { randomBytes } from "node:crypto";
import type { Client } from "pg";
import { acquireLease, LeaseHeldError, type Lease } from "../../coordination/lease";

/**
 * The tenant's move lease (one mover or purge of a tenant at a time), and what makes a lost one harmless.
 *
 * A mover run by hand holds a session-bound lease: never taken from a live session, so a frozen mover blocks its
 * tenant until it resumes or its session ends. A mover run by a workflow activity holds one bound to its session
 * *and* to a time it renews (`timeBound`, the activity's heartbeat timeout): killed, it frees the lease at once;
 * frozen past the timeout, the activity's retry on another worker takes the lease over with the next fencing token.
 * The frozen one — a zombie when it resumes — then changes nothing:
 *   - catalog writes are guarded by its token (leaseGuardSql): they commit only while that token holds the lease;
 *   - every session of a mover is tagged (application_name `bloom-move:<tenant>:<nonce>`, set by the very statement
 *     that acquires the lease), and the new holder ends the sessions of earlier holders on every database of the move
 *     before it reads the journal: a zombie's statement in flight is rolled back and its connections are gone. The
 *     tenant's rows live in databases the token cannot guard, so this is their fence;
 *   - a connection a mover opens is checked against the lease once open: one a zombie opens after the takeover is
 *     refused before its first write, one opened before is among those the new holder ends.
 */
export const MOVE_SESSION_PREFIX = "bloom-move:";

export interface MoveLeaseSettings {
  /** Who holds it, for `bloom tenants status` and refusals (a workflow id and attempt). */
  holder: string;
  /** Taken over by another mover once this long passes without a renewal (renewed every third of it). */
  ttlMs: number;
}

/** What a step's own connections need of the lease: their tag, and a check before they write. */
export interface MoveSessionGuard {
  readonly sessionTag: string;
  check(): Promise<void>;
}

export class MoveLeaseLost extends Error {
  constructor(tenantId: string, why: string) {
    super(`this mover lost the move lease of tenant "${tenantId}" (${why}): another mover may have the move now, so this one stops and changes nothing more`);
    this.name = "MoveLeaseLost";
  }
}

export class MoveLease implements MoveSessionGuard {
  private lostBecause: string | undefined;
  private renewing: NodeJS.Timeout | undefined;

  private constructor(private readonly lease: Lease, readonly tenantId: string, readonly sessionTag: string) {}

  /** Waits up to `waitMs` for the lease (a killed holder's server session ends a moment after its process). */
  static async hold(pool: Client, tenantId: string, opts: { waitMs?: number; timeBound?: MoveLeaseSettings } = {}): Promise<MoveLease> {
    const sessionTag = `${MOVE_SESSION_PREFIX}${tenantId}:${randomBytes(4).toString("hex")}`;
    const bound = opts.timeBound ? { ttlMs: opts.timeBound.ttlMs, sessionBound: true } : {};
    try {
      const lease = await acquireLease(pool, `tenant-move:${tenantId}`, opts.timeBound?.holder ?? `tenant move or purge of "${tenantId}"`, { waitMs: opts.waitMs ?? 10_000, sessionTag, ...bound });
      const held = new MoveLease(lease, tenantId, sessionTag);
      if (opts.timeBound) held.renewEvery(opts.timeBound.ttlMs / 3);
      return held;
    } catch (err) {
      if (!(err instanceof LeaseHeldError)) throw err;
      throw new Error(`another process is moving or purging tenant "${tenantId}" right now (${err.heldBy ? `${err.heldBy.holder}, ` : ""}${err.heldBy?.pid ? `pid ${err.heldBy.pid}, ` : ""}since ${err.heldBy?.since.toISOString() ?? "?"}): wait for it to finish (bloom tenants status)`);
    }
  }

  get name(): string {
    return this.lease.name;
  }

  get token(): number {
    return this.lease.token;
  }

  /** Throws MoveLeaseLost unless this token still holds the lease. */
  async check(): Promise<void> {
    if (!this.lostBecause) {
      const held = await this.lease.held().catch((err: Error) => this.lose(`its catalog connection failed: ${err.message}`));
      if (held === false) this.lose("taken over, or expired");
    }
    if (this.lostBecause) throw new MoveLeaseLost(this.tenantId, this.lostBecause);
  }

  /** Whether it is known to be lost (a failed renewal or check), without asking the database. */
  get lost(): boolean {
    return this.lostBecause !== undefined;
  }

  lostError(): MoveLeaseLost {
    return new MoveLeaseLost(this.tenantId, this.lostBecause ?? "taken over, or expired");
  }

  /**
   * Ends the sessions of this tenant's earlier movers on `c`'s database (those it may end: its own role's, or any
   * if it is a superuser; the rest are ended through an admin connection, and listed otherwise), waiting until each
   * is gone. Only this database: another pool on the same server may be moving a tenant of the same id. Returns how
   * many it ended.
   */
  async endEarlierHolders(c: Client, log: (line: string) => void): Promise<number> {
    const { rows } = await c.query<{ pid: number; application: string; ended: boolean | null }>(
      `SELECT a.pid, a.application_name AS application,
              CASE WHEN me.rolsuper OR (NOT r.rolsuper AND pg_catalog.pg_has_role(current_user, r.oid, 'USAGE'))
                   THEN pg_catalog.pg_terminate_backend(a.pid, 5000) END AS ended
       FROM pg_catalog.pg_stat_activity a JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid,
            (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) me
       WHERE a.datname = pg_catalog.current_database() AND left(a.application_name, length($1)) = $1
         AND a.application_name <> $2 AND a.pid <> pg_catalog.pg_backend_pid()`,
      [`${MOVE_SESSION_PREFIX}${this.tenantId}:`, this.sessionTag]);
    const ended = rows.filter((r) => r.ended);
    if (ended.length) log(`ended ${ended.length} session(s) of an earlier mover of ${this.tenantId} (token ${this.token} holds the lease now): pids ${ended.map((r) => r.pid).join(", ")}`);
    const left = rows.filter((r) => !r.ended);
    if (left.length) log(`${left.length} session(s) of an earlier mover of ${this.tenantId} not ended from this connection (pids ${left.map((r) => r.pid).join(", ")}): ended by the admin connection if the move opens one`);
    return ended.length;
  }

  /** Stops renewing and gives the lease back (a no-op for a token that lost it). */
  async release(): Promise<void> {
    clearInterval(this.renewing);
    await this.lease.release().catch(() => undefined);
  }

  private renewEvery(ms: number): void {
    this.renewing = setInterval(() => {
      if (this.lost) return;
      this.lease.renew().then((ok) => ok || this.lose("taken over after it expired"), (err: Error) => this.lose(`its renewal failed: ${err.message}`));
    }, ms);
    this.renewing.unref();
  }

  private lose(why: string): undefined {
    this.lostBecause ??= why;
    clearInterval(this.renewing);
    return undefined;
  }
}
