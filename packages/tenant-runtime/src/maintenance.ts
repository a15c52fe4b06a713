/**
 * The maintenance error: while a tenant moves (`bloom tenants extract|return|offboard`) the database refuses the
 * app's writes of its rows with SQLSTATE BL503 (the fence). `pg` reports it as `err.code`; Prisma 7 wraps it
 * (P2039 for model operations, P2010 for raw queries) with the SQLSTATE at `meta.driverAdapterError.cause.originalCode`,
 * so this looks through every wrapper it knows.
 */
export const TENANT_MAINTENANCE_SQLSTATE = "BL503";

const SQLSTATE = /^[0-9A-Z]{5}$/;

export function isTenantMaintenanceError(err: unknown): boolean {
  return sqlStateOf(err) === TENANT_MAINTENANCE_SQLSTATE;
}

/** The SQLSTATE behind an error from pg, Prisma 7 or a driver adapter, if any. */
export function sqlStateOf(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length) {
    const e = queue.shift() as Record<string, unknown> | null | undefined;
    if (!e || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    // The driver's own SQLSTATE (Prisma's adapter error keeps it as originalCode); `code` counts only on a Postgres
    // error (pg's has a severity), never on a Prisma code (P2039) or a Node one (EPIPE).
    if (typeof e.originalCode === "string" && SQLSTATE.test(e.originalCode)) return e.originalCode;
    if (typeof e.code === "string" && SQLSTATE.test(e.code) && (typeof e.severity === "string" || e.kind === "postgres")) return e.code;
    queue.push(e.cause, e.meta, e.driverAdapterError, e.error);
  }
  return undefined;
}

export interface MaintenanceRetryOptions {
  /** How many times `fn` runs at most (default 6). */
  attempts?: number;
  /** Wait before retry number `n` (1-based), in ms: default 100 · 2^(n-1), capped at 2 s, with full jitter. */
  backoff?: (retry: number) => number;
  /** Called before each retry, e.g. to forget the tenant's cached location (router.invalidate). */
  onRetry?: (err: unknown, retry: number) => void | Promise<void>;
  sleep?: (ms: number) => Promise<void>;
}

export class TenantStillInMaintenanceError extends Error {
  constructor(readonly attempts: number, readonly cause: unknown) {
    super(`the tenant is still in maintenance after ${attempts} attempts: answer 503 with Retry-After and let the client retry`);
    this.name = "TenantStillInMaintenanceError";
  }
}

const defaultBackoff = (retry: number) => Math.random() * Math.min(2_000, 100 * 2 ** (retry - 1));

/**
 * Runs `fn`, and again while it fails with the maintenance error (a move's freeze lasts well under a second or
 * two), then gives up with TenantStillInMaintenanceError. Any other error is thrown at once. `fn` must be a whole
 * unit of work (its own transaction), so a retry repeats nothing that committed.
 */
export async function withMaintenanceRetry<T>(fn: () => Promise<T>, opts: MaintenanceRetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 6;
  const backoff = opts.backoff ?? defaultBackoff;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTenantMaintenanceError(err)) throw err;
      if (attempt >= attempts) throw new TenantStillInMaintenanceError(attempts, err);
      await opts.onRetry?.(err, attempt);
      await sleep(backoff(attempt));
    }
  }
}
