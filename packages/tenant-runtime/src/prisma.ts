import { requireTenant } from "./context.js";
import { tenantAdapterFactory, type SqlDriverAdapterFactory, type TenantBinding } from "./prismaAdapter.js";
import type { TenantRouter } from "./routing.js";

export { tenantAdapterFactory } from "./prismaAdapter.js";
export type { SqlDriverAdapterFactory } from "./prismaAdapter.js";

/** The least a Prisma 7 client offers that the runtime uses. */
export interface DisconnectablePrisma {
  $disconnect(): Promise<void>;
}

/**
 * `F` is the app's driver-adapter factory type (e.g. PrismaPg): the runtime's tenant-bound factory has the same
 * shape, so the app's own PrismaClient accepts it.
 */
export interface TenantPrismaOptions<C extends DisconnectablePrisma, F extends object> {
  /** Where each tenant lives (createTenantRouter): the pool or its dedicated database. */
  router: TenantRouter;
  /**
   * The driver adapter for a database URL, e.g. `(url) => new PrismaPg(new Pool({ connectionString: url }))`. Called
   * once per URL: every tenant of that database shares the one pool.
   */
  adapterFor(url: string): F;
  /** A Prisma client on the adapter given, e.g. `(adapter) => new PrismaClient({ adapter })`. */
  createClient(adapter: F, tenantId: string): C;
  /**
   * Clients kept at most; the least recently used idle one is closed past it (default 64). Measured with Prisma 7.10:
   * about 1.1 MB of heap (1.5 MB RSS) per tenant's client.
   */
  maxClients?: number;
}

export interface TenantPrisma<C extends DisconnectablePrisma> {
  /**
   * The client of the tenant in context, resolved when a property is read (`prisma.patient`, `prisma.$transaction`,
   * `prisma.$queryRaw`): a MissingTenantError there without a tenant. Because it is resolved when the call is made,
   * not when the lazy Prisma promise is awaited, a sync arrow keeps its tenant.
   */
  readonly prisma: C;
  /** The client bound to one tenant, without a context. */
  forTenant(tenantId: string): C;
  /** Drops a tenant's client and cached location (done by itself on the maintenance error). */
  invalidate(tenantId: string): void;
  /** Closes every client (the adapters and their pools are the app's: it made them in adapterFor). */
  disconnect(): Promise<void>;
}

/**
 * One Prisma client per tenant, each on a driver adapter bound to that tenant (prismaAdapter.ts), sharing one
 * adapter (one pg pool) per database. Per tenant rather than one client that reads the tenant per query: Prisma
 * batches concurrent `findUnique` calls of one client into one query, which would run them under one tenant.
 * A maintenance error (BL503) drops the tenant's client and cached location, so its next request resolves the
 * tenant again and reaches its new home once a move has cut over.
 */
export function createTenantPrisma<C extends DisconnectablePrisma, F extends object>(opts: TenantPrismaOptions<C, F>): TenantPrisma<C> {
  const max = opts.maxClients ?? 64;
  const adapters = new Map<string, SqlDriverAdapterFactory>();
  const clients = new Map<string, { client: C; busy: { count: number } }>();
  const retiring = new Set<{ client: C; busy: { count: number } }>();

  const adapterFor = (url: string) => {
    let a = adapters.get(url);
    if (!a) adapters.set(url, (a = opts.adapterFor(url) as unknown as SqlDriverAdapterFactory));
    return a;
  };

  function retire(tenantId: string): void {
    const entry = clients.get(tenantId);
    if (!entry) return;
    clients.delete(tenantId);
    retiring.add(entry);
    closeIdle();
  }

  function closeIdle(): void {
    for (const entry of retiring) {
      if (entry.busy.count > 0) continue;
      retiring.delete(entry);
      void entry.client.$disconnect().catch(() => undefined);
    }
  }

  function forTenant(tenantId: string): C {
    const hit = clients.get(tenantId);
    if (hit) {
      clients.delete(tenantId); // re-insert: the map's order is the least recently used first
      clients.set(tenantId, hit);
      return hit.client;
    }
    const busy = { count: 0 };
    const binding: TenantBinding = {
      tenantId,
      busy,
      resolve: async () => adapterFor((await opts.router.resolveTenantConnection(tenantId)).url),
      onMaintenance: () => {
        opts.router.invalidate(tenantId);
        if (clients.get(tenantId)?.busy === busy) retire(tenantId);
      },
    };
    const client = opts.createClient(tenantAdapterFactory(binding) as unknown as F, tenantId);
    clients.set(tenantId, { client, busy });
    if (clients.size > max) {
      const idle = [...clients].find(([, e]) => e.busy.count === 0);
      if (idle) retire(idle[0]);
    }
    closeIdle();
    return client;
  }

  const prisma = new Proxy({} as C, {
    get(_target, prop) {
      // Not a thenable (`await prisma` must not resolve a tenant), and symbols (Symbol.toStringTag, iterators) are
      // no Prisma API: only a named property needs the tenant.
      if (prop === "then" || typeof prop === "symbol") return undefined;
      const client = forTenant(requireTenant(`prisma.${String(prop)}`)) as Record<PropertyKey, unknown>;
      const value = client[prop];
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(client) : value;
    },
  });

  return {
    prisma,
    forTenant,
    invalidate(tenantId) {
      opts.router.invalidate(tenantId);
      retire(tenantId);
    },
    async disconnect() {
      const all = [...clients.values(), ...retiring];
      clients.clear();
      retiring.clear();
      await Promise.all(all.map((e) => e.client.$disconnect()));
    },
  };
}
