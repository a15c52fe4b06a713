import { isTenantMaintenanceError } from "./maintenance.js";
import { SET_TENANT_SQL } from "./transaction.js";

/**
 * A Prisma 7 driver adapter that binds one tenant to every database transaction Prisma runs: the transactions it
 * opens (interactive `$transaction`, nested writes) get `set_config('app.clinic_id', tenant, true)` as their first
 * statement, and a statement Prisma would run on its own (a model operation, a raw query, a batch `$transaction`'s
 * single query) runs inside such a transaction. Nothing reaches the database without the tenant, and nothing of it
 * outlives the transaction, so a transaction pooler cannot carry it on.
 *
 * The types are Prisma's driver-adapter interface (`@prisma/driver-adapter-utils`), written out structurally so the
 * package needs no Prisma at run time.
 */
export interface SqlQuery {
  sql: string;
  args: unknown[];
  argTypes: { scalarType: string; dbType?: string; arity: "scalar" | "list" }[];
}
export interface SqlResultSet {
  columnTypes: number[];
  columnNames: string[];
  rows: unknown[][];
  lastInsertId?: string;
}
export interface SqlQueryable {
  readonly provider: "postgres";
  readonly adapterName: string;
  queryRaw(q: SqlQuery): Promise<SqlResultSet>;
  executeRaw(q: SqlQuery): Promise<number>;
}
export interface SqlTransaction extends SqlQueryable {
  readonly options: { usePhantomQuery: boolean };
  commit(): Promise<void>;
  rollback(): Promise<void>;
  createSavepoint?(name: string): Promise<void>;
  rollbackToSavepoint?(name: string): Promise<void>;
  releaseSavepoint?(name: string): Promise<void>;
}
export interface SqlDriverAdapter extends SqlQueryable {
  executeScript(script: string): Promise<void>;
  startTransaction(isolationLevel?: string): Promise<SqlTransaction>;
  getConnectionInfo?(): object;
  dispose(): Promise<void>;
}
export interface SqlDriverAdapterFactory {
  readonly provider: "postgres";
  readonly adapterName: string;
  connect(): Promise<SqlDriverAdapter>;
}

const setTenant = (tenantId: string): SqlQuery => ({ sql: SET_TENANT_SQL, args: [tenantId], argTypes: [{ scalarType: "string", arity: "scalar" }] });
const statement = (sql: string): SqlQuery => ({ sql, args: [], argTypes: [] });

export interface TenantBinding {
  tenantId: string;
  /** The adapter factory of the database the tenant lives in (resolved when Prisma first connects). */
  resolve(): Promise<SqlDriverAdapterFactory>;
  /** A statement of this tenant failed with the maintenance error (the tenant is moving, or has moved). */
  onMaintenance(): void;
  /** Work in flight on this binding: a client is closed only when it has none. */
  busy: { count: number };
}

export function tenantAdapterFactory(binding: TenantBinding): SqlDriverAdapterFactory {
  return {
    provider: "postgres",
    adapterName: "@bloom/tenant-runtime",
    async connect() {
      return tenantAdapter(await (await binding.resolve()).connect(), binding);
    },
  };
}

function tenantAdapter(inner: SqlDriverAdapter, b: TenantBinding): SqlDriverAdapter {
  const watch = async <T>(work: () => Promise<T>): Promise<T> => {
    b.busy.count++;
    try {
      return await work();
    } catch (err) {
      if (isTenantMaintenanceError(err)) b.onMaintenance();
      throw err;
    } finally {
      b.busy.count--;
    }
  };

  async function begin(isolationLevel?: string): Promise<SqlTransaction> {
    const tx = await inner.startTransaction(isolationLevel);
    try {
      await tx.executeRaw(setTenant(b.tenantId));
    } catch (err) {
      await closeTransaction(tx, "ROLLBACK").catch(() => undefined);
      throw err;
    }
    return tx;
  }

  /** One statement Prisma runs outside a transaction: BEGIN; set the tenant; the statement; COMMIT. */
  async function alone<T>(run: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const tx = await begin();
    let result: T;
    try {
      result = await run(tx);
    } catch (err) {
      await closeTransaction(tx, "ROLLBACK").catch(() => undefined);
      throw err;
    }
    await closeTransaction(tx, "COMMIT");
    return result;
  }

  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    queryRaw: (q) => watch(() => alone((tx) => tx.queryRaw(q))),
    executeRaw: (q) => watch(() => alone((tx) => tx.executeRaw(q))),
    async executeScript() {
      // Only Prisma's migrate uses scripts; the platform applies migrations as the migrator, never through the app.
      throw new Error("@bloom/tenant-runtime: executeScript is not available on a tenant's connection (migrations run as the migrator)");
    },
    startTransaction: (isolationLevel) =>
      watch(async () => {
        const tx = await begin(isolationLevel);
        b.busy.count++; // an open transaction keeps its client alive until it ends
        return watchedTransaction(tx, watch, () => b.busy.count--);
      }),
    getConnectionInfo: inner.getConnectionInfo?.bind(inner),
    dispose: () => inner.dispose(),
  };
}

/** Ends a transaction the way Prisma does when the adapter asks for no phantom query: the statement, then release. */
async function closeTransaction(tx: SqlTransaction, how: "COMMIT" | "ROLLBACK"): Promise<void> {
  try {
    if (!tx.options.usePhantomQuery) await tx.executeRaw(statement(how));
  } catch (err) {
    await tx.rollback().catch(() => undefined);
    throw err;
  }
  await (how === "COMMIT" ? tx.commit() : tx.rollback());
}

function watchedTransaction(tx: SqlTransaction, watch: <T>(work: () => Promise<T>) => Promise<T>, ended: () => void): SqlTransaction {
  const end = (how: () => Promise<void>) => how().finally(ended);
  return {
    provider: tx.provider,
    adapterName: tx.adapterName,
    options: tx.options,
    queryRaw: (q) => watch(() => tx.queryRaw(q)),
    executeRaw: (q) => watch(() => tx.executeRaw(q)),
    commit: () => end(() => tx.commit()),
    rollback: () => end(() => tx.rollback()),
    createSavepoint: tx.createSavepoint?.bind(tx),
    rollbackToSavepoint: tx.rollbackToSavepoint?.bind(tx),
    releaseSavepoint: tx.releaseSavepoint?.bind(tx),
  };
}
