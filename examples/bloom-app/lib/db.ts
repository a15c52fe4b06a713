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
      if (process.env.BLOOM_APP_STATEMENT_COUNTS === "1") countStatements(p);
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

// bench:tenant-load's N+1 check: every statement any connection of the app's pools sends, counted in the process
// (one counter for every route's module instance). Off unless BLOOM_APP_STATEMENT_COUNTS=1.
const COUNTER = Symbol.for("bloom-app/statements");
const counter = globalThis as { [COUNTER]?: { statements: number } };
export const statementCounter = () => (counter[COUNTER] ??= { statements: 0 });

function countStatements(pool: Pool): void {
  pool.on("connect", (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      statementCounter().statements++;
      return query(...args);
    };
  });
}
