import { PrismaPg } from "@prisma/adapter-pg";
import { Pool } from "pg";
import { createTenantRouter } from "@bloom/tenant-runtime";
import { createTenantPrisma } from "@bloom/tenant-runtime/prisma";
import { PrismaClient } from "../../../prisma/generated/client";
import { throughPooler } from "../../../infra/database/local/pgbouncer";
import { TENANTS, tenantDatabase, type TenantDatabase } from "../../../test/tenantFixtures";
import { query } from "../../../test/postgres";

/**
 * What an app does with the runtime and Prisma 7: a pool database built as the platform builds it, reached as the
 * app reaches it — the app role through the harness's PgBouncer (transaction pooling, like Neon's pooled endpoint),
 * with @prisma/adapter-pg's defaults (unnamed statements) and no `?pgbouncer=true`.
 */
export async function pooledAppDatabase(prefix: string): Promise<TenantDatabase & { pooledAppUrl: string }> {
  const port = Number(process.env.BLOOM_TEST_POOLER_PORT);
  if (!port) throw new Error("BLOOM_TEST_POOLER_PORT is not set: the test harness (test/globalSetup.ts) starts PgBouncer; run through vitest's runtime project");
  const db = await tenantDatabase(prefix);
  return { ...db, pooledAppUrl: throughPooler(db.appUrl, { host: "127.0.0.1", port, stateDir: "" }) };
}

/** The seeded tenants as the catalog knows them after `up`: pooled, settled. */
export async function catalogTenants(migratorUrl: string): Promise<void> {
  await query(migratorUrl, `INSERT INTO bloom_platform.tenants (id, isolation, location) SELECT t, 'pooled', '{"kind":"pool"}' FROM unnest($1::text[]) t
    ON CONFLICT (id) DO UPDATE SET isolation = 'pooled', location = '{"kind":"pool"}', move_state = 'settled'`, [[...TENANTS]]);
}

export function tenantPrismaFor(pooledAppUrl: string, opts: { credentialsFor?: (tenantId: string) => string } = {}) {
  const routingPool = new Pool({ connectionString: pooledAppUrl, max: 2 });
  const pools: Pool[] = [routingPool];
  const router = createTenantRouter({
    pool: routingPool,
    poolUrl: pooledAppUrl,
    credentialsFor: (id) => opts.credentialsFor?.(id) ?? Promise.reject(new Error(`no credentials for ${id}`)),
    cacheTtlMs: 60_000,
  });
  const runtime = createTenantPrisma({
    router,
    adapterFor: (url) => {
      const pool = new Pool({ connectionString: url, max: 4 });
      pools.push(pool);
      return new PrismaPg(pool);
    },
    createClient: (adapter) => new PrismaClient({ adapter }),
  });
  return {
    ...runtime,
    router,
    async close() {
      await runtime.disconnect();
      await Promise.all(pools.map((p) => p.end()));
    },
  };
}
