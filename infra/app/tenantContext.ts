import { AsyncLocalStorage } from "node:async_hooks";
import { Client, type Pool, type PoolClient } from "pg";

/**
 * The tenant travels per transaction, never per session (playbook phase 0: "AsyncLocalStorage tenant context +
 * runWithTenant helper"). Behind a transaction pooler (PgBouncer, Neon's pooled endpoint) consecutive transactions
 * of one client may run on different server connections, and a server connection serves many clients: a session
 * setting of app.clinic_id would hand one clinic's context to the next client. `set_config(…, true)` ends with the
 * transaction, so nothing outlives the unit of work.
 *
 *   const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 *   const patients = await runWithTenant(pool, clinicId, (db) => db.query('SELECT * FROM "patient"'));
 */
export class MissingTenantError extends Error {
  constructor(what: string) {
    super(`${what}: no tenant in context; wrap the unit of work in runWithTenant(pool, clinicId, fn)`);
    this.name = "MissingTenantError";
  }
}

export class TenantContextConflictError extends Error {
  constructor(readonly outer: string, readonly inner: string) {
    super(`runWithTenant("${inner}") nested inside runWithTenant("${outer}"): one unit of work serves one tenant`);
    this.name = "TenantContextConflictError";
  }
}

interface TenantScope {
  clinicId: string;
  /** The open transaction of this unit of work; absent in a context-only scope (withTenantContext). */
  client?: Client | PoolClient;
}

const scope = new AsyncLocalStorage<TenantScope>();

/** The tenant of the unit of work this code runs in, if any. */
export function currentTenant(): string | undefined {
  return scope.getStore()?.clinicId;
}

/** The tenant of the current unit of work, or a MissingTenantError naming `what` needed it. */
export function requireTenant(what: string): string {
  const clinicId = currentTenant();
  if (!clinicId) throw new MissingTenantError(what);
  return clinicId;
}

/**
 * Runs `fn` in one transaction whose first statement sets `app.clinic_id` for that transaction only. `db` is a
 * pg Pool (a connection is taken and released) or a connected Client (used as is). A nested call for the same
 * tenant joins the outer transaction; for another tenant it throws.
 */
export async function runWithTenant<T>(db: Pool | Client, clinicId: string, fn: (client: Client | PoolClient) => Promise<T>): Promise<T> {
  if (typeof clinicId !== "string" || clinicId.trim() === "") throw new MissingTenantError("runWithTenant(clinicId)");
  const outer = scope.getStore();
  if (outer && outer.clinicId !== clinicId) throw new TenantContextConflictError(outer.clinicId, clinicId);
  if (outer?.client) return fn(outer.client);
  return inTransaction(db, clinicId, (client) => scope.run({ clinicId, client }, () => fn(client)));
}

/**
 * The tenant in context without opening a transaction: for code whose queries set it themselves, such as a
 * Prisma client extension that reads requireTenant() (docs/app-runtime.md).
 */
export function withTenantContext<T>(clinicId: string, fn: () => T): T {
  if (typeof clinicId !== "string" || clinicId.trim() === "") throw new MissingTenantError("withTenantContext(clinicId)");
  const outer = scope.getStore();
  if (outer && outer.clinicId !== clinicId) throw new TenantContextConflictError(outer.clinicId, clinicId);
  return scope.run({ clinicId, client: outer?.client }, fn);
}

/** A unit of work with no tenant (platform jobs, shadow-mode code paths): one transaction, nothing set. */
export async function runWithoutTenant<T>(db: Pool | Client, fn: (client: Client | PoolClient) => Promise<T>): Promise<T> {
  if (scope.getStore()) throw new TenantContextConflictError(scope.getStore()!.clinicId, "(none)");
  return inTransaction(db, undefined, fn);
}

async function inTransaction<T>(db: Pool | Client, clinicId: string | undefined, fn: (client: Client | PoolClient) => Promise<T>): Promise<T> {
  const pooled = !(db instanceof Client);
  const client = pooled ? await (db as Pool).connect() : (db as Client);
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    if (clinicId !== undefined) await client.query("SELECT set_config('app.clinic_id', $1, true)", [clinicId]);
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    // A connection whose ROLLBACK fails is broken: a pool gets it back destroyed.
    await client.query("ROLLBACK").catch((e: Error) => (broken = e));
    throw err;
  } finally {
    if (pooled) (client as PoolClient).release(broken);
  }
}
