import { PrismaPg } from "@prisma/adapter-pg";
import { Pool } from "pg";
import { createTenantRouter } from "@bloom/tenant-runtime";
import { createTenantPrisma } from "@bloom/tenant-runtime/prisma";
import { PrismaClient } from "../generated/prisma/client"; // generated from the reference schema (npm run prisma:generate)

/**
 * The app's database, made once per process: the router (the pool, or a dedicated tenant's database whose URL comes
 * from the app's secret store) and Prisma 7 per tenant through the runtime (`createTenantPrisma`), one pg pool per
 * database. `db.prisma` is the client of the tenant in context: outside `withTenantContext` it throws.
 */
export function appDatabase(poolUrl: string, credentialsFor: (tenantId: string) => string) {
  const pools = new Map<string, Pool>();
  const poolFor = (url: string) => {
    let p = pools.get(url);
    if (!p) {
      pools.set(url, (p = new Pool({ connectionString: url, max: 10 })));
      p.setMaxListeners(0); // each tenant's Prisma client adds one 'error' listener to its database's pool
    }
    return p;
  };
  const router = createTenantRouter({ pool: poolFor(poolUrl), poolUrl, credentialsFor });
  const tenants = createTenantPrisma({
    router,
    adapterFor: (url) => new PrismaPg(poolFor(url)),
    createClient: (adapter) => new PrismaClient({ adapter }),
  });
  // The Prisma gate's red case (gates/prisma.spec.ts): a data layer on a client the runtime does not bind to the
  // tenant — what an app writes when it forgets the tenant and nothing notices. Read at run time: one build serves both.
  const prisma = process.env.BLOOM_APP_MUTANT === "unbound-prisma" ? new PrismaClient({ adapter: new PrismaPg(poolFor(poolUrl)) }) : tenants.prisma;
  return {
    router,
    prisma,
    poolFor,
    async close() {
      await tenants.disconnect();
      await Promise.all([...pools.values()].map((p) => p.end()));
    },
  };
}

export type AppDatabase = ReturnType<typeof appDatabase>;
