import { assertTenantId, outerScope, runInScope, scopeFor, TenantContextConflictError } from "./context.js";

/**
 * What runWithTenant needs of `pg`, structurally, so any pg 8.x works (a second copy of pg in the app's tree makes
 * `instanceof` checks lie) and the package carries no runtime dependency on it.
 */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<unknown>;
}
export interface PooledSqlClient extends SqlClient {
  release(err?: Error | boolean): void;
}
export interface SqlPool<C extends PooledSqlClient = PooledSqlClient> {
  connect(): Promise<C>;
  readonly totalCount: number;
}
/**
 * The connection type a pool hands out. pg's Pool declares `connect()` twice (promise, then callback); TypeScript
 * infers from the last declaration, so the callback form is read first.
 */
export type PoolClientOf<P> = P extends { connect(callback: (err: never, client: infer C, done: never) => void): void }
  ? Extract<NonNullable<C>, PooledSqlClient>
  : P extends { connect(): Promise<infer C extends PooledSqlClient> } ? C : PooledSqlClient;

/** A pg Pool hands out connections; a Client or a PoolClient is one connection the caller owns. */
function isPool(db: unknown): db is SqlPool {
  const d = db as Partial<SqlPool & PooledSqlClient>;
  return typeof d.connect === "function" && typeof d.release !== "function" && typeof d.totalCount === "number";
}

export const SET_TENANT_SQL = "SELECT set_config('app.clinic_id', $1, true)";

/**
 * Runs `fn` in one transaction whose first statement sets `app.clinic_id` for that transaction only. `db` is a pg
 * Pool (a connection is taken and released), or a Client / PoolClient the caller connected (used as is, never
 * connected again). A nested call for the same tenant joins the outer transaction; for another tenant it throws.
 *
 *   const patients = await runWithTenant(pool, clinicId, (db) => db.query('SELECT * FROM "patient"'));
 */
export function runWithTenant<P extends SqlPool, T>(db: P, clinicId: string, fn: (client: PoolClientOf<P>) => Promise<T>): Promise<T>;
export function runWithTenant<C extends SqlClient, T>(db: C, clinicId: string, fn: (client: C) => Promise<T>): Promise<T>;
// The overloads carry the types; the body sees the connection as the SqlClient it is.
export async function runWithTenant(db: SqlPool | SqlClient, clinicId: string, fn: (client: never) => Promise<unknown>): Promise<unknown> {
  assertTenantId(clinicId, "runWithTenant(clinicId)");
  const outer = scopeFor(clinicId);
  if (outer?.client) return fn(outer.client as never);
  return inTransaction(db, clinicId, (client) => runInScope({ clinicId, client }, () => fn(client as never)));
}

/** A unit of work with no tenant (platform jobs, shadow-mode code paths): one transaction, nothing set; enforce mode shows it nothing. */
export function runWithoutTenant<P extends SqlPool, T>(db: P, fn: (client: PoolClientOf<P>) => Promise<T>): Promise<T>;
export function runWithoutTenant<C extends SqlClient, T>(db: C, fn: (client: C) => Promise<T>): Promise<T>;
export async function runWithoutTenant(db: SqlPool | SqlClient, fn: (client: never) => Promise<unknown>): Promise<unknown> {
  const outer = outerScope();
  if (outer) throw new TenantContextConflictError(outer.clinicId, "(none)");
  return inTransaction(db, undefined, (client) => fn(client as never));
}

async function inTransaction<T>(db: SqlPool | SqlClient, clinicId: string | undefined, fn: (client: SqlClient) => Promise<T>): Promise<T> {
  const pooled = isPool(db);
  const client: SqlClient = pooled ? await db.connect() : (db as SqlClient);
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    if (clinicId !== undefined) await client.query(SET_TENANT_SQL, [clinicId]);
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    // A connection whose ROLLBACK fails is broken: the pool gets it back destroyed.
    await client.query("ROLLBACK").catch((e: Error) => (broken = e));
    throw err;
  } finally {
    if (pooled) (client as PooledSqlClient).release(broken);
  }
}
