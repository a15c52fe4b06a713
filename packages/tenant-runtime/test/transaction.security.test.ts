import { Client, Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MissingTenantError, TenantContextConflictError, currentTenant, runWithTenant, withTenantContext } from "@bloom/tenant-runtime";
import { setTenancyMode } from "../../../infra/tenancy/rlsModes";
import { throughPooler } from "../../../infra/database/local/pgbouncer";
import { requirePostgres } from "../../../test/postgres";
import { seedTenants, tenantDatabase, type TenantDatabase } from "../../../test/tenantFixtures";

/**
 * Defect 7: the tenant must travel per transaction. Through a real PgBouncer in transaction mode (the harness
 * starts it in front of the test Postgres), two clients of different tenants interleave transactions that share
 * server connections; with runWithTenant neither ever sees the other's rows. The second test shows why the helper
 * is needed: a session-level SET stays on the server connection and reaches the next client.
 * BLOOM_POOLER_TRANSACTIONS sets the number of transactions (CI default 10,000).
 */
const TRANSACTIONS = Number(process.env.BLOOM_POOLER_TRANSACTIONS ?? 10_000);
const POOLER = { host: "127.0.0.1", port: Number(process.env.BLOOM_TEST_POOLER_PORT), stateDir: "" };

let db: TenantDatabase;
let pooledAppUrl: string;

beforeAll(async () => {
  await requirePostgres();
  if (!POOLER.port) throw new Error("BLOOM_TEST_POOLER_PORT is not set: the test harness (test/globalSetup.ts) starts PgBouncer; run through vitest's security project");
  db = await tenantDatabase("pool");
  await seedTenants(db.url);
  await setTenancyMode(db.url, "enforce");
  pooledAppUrl = throughPooler(db.appUrl, POOLER);
});
afterAll(async () => {
  await db?.drop();
});

describe("runWithTenant through PgBouncer (transaction pooling)", () => {
  it(`two interleaved clients of different tenants over ${TRANSACTIONS} transactions never see each other's rows`, async () => {
    const clients = [new Client({ connectionString: pooledAppUrl }), new Client({ connectionString: pooledAppUrl })];
    await Promise.all(clients.map((c) => c.connect()));
    const backends = [new Set<number>(), new Set<number>()];
    let foreign = 0;
    let empty = 0;
    try {
      await Promise.all((["alpha", "beta"] as const).map(async (tenant, i) => {
        for (let n = 0; n < TRANSACTIONS / 2; n++) {
          const { rows } = await runWithTenant(clients[i]!, tenant, async (c) => {
            expect(currentTenant()).toBe(tenant);
            return c.query<{ clinic_id: string; pid: number }>(`SELECT clinic_id, pg_backend_pid() AS pid FROM "patient"`);
          });
          if (rows.length === 0) empty++;
          foreign += rows.filter((r) => r.clinic_id !== tenant).length;
          if (rows[0]) backends[i]!.add(rows[0].pid);
        }
      }));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    expect(foreign).toBe(0);
    expect(empty).toBe(0);
    // The test means something only if the pooler really handed one server connection to both clients.
    expect([...backends[0]!].some((pid) => backends[1]!.has(pid))).toBe(true);
  });

  it("a session-level SET leaks through the pooler to the next client (why runWithTenant exists)", async () => {
    const a = new Client({ connectionString: pooledAppUrl });
    const b = new Client({ connectionString: pooledAppUrl });
    await Promise.all([a.connect(), b.connect()]);
    try {
      let leaked: string[] = [];
      for (let i = 0; i < 100 && leaked.length === 0; i++) {
        await a.query("SET app.clinic_id = 'alpha'"); // the anti-pattern: session state on a shared server connection
        leaked = (await b.query<{ clinic_id: string }>(`SELECT clinic_id FROM "patient"`)).rows.map((r) => r.clinic_id); // b set no tenant
      }
      expect(leaked.length).toBeGreaterThan(0);
      expect(new Set(leaked)).toEqual(new Set(["alpha"]));
    } finally {
      await a.query("RESET app.clinic_id").catch(() => undefined);
      await Promise.all([a.end(), b.end()]);
    }
  });

  it("with a Pool, after runWithTenant nothing of the tenant remains on the connection", async () => {
    const pool = new Pool({ connectionString: pooledAppUrl, max: 2 });
    try {
      await runWithTenant(pool, "gamma", (c) => c.query(`SELECT 1 FROM "patient"`));
      const after = await pool.query<{ v: string | null }>("SELECT nullif(current_setting('app.clinic_id', true), '') AS v");
      expect(after.rows[0]!.v).toBeNull();
      expect((await pool.query(`SELECT clinic_id FROM "patient"`)).rows).toEqual([]); // enforce: no tenant, no rows
    } finally {
      await pool.end();
    }
  });

  it("refuses a unit of work without a tenant, or nested for another tenant, before touching the database", async () => {
    const pool = new Pool({ connectionString: pooledAppUrl, max: 1 });
    try {
      await expect(runWithTenant(pool, "", async () => 1)).rejects.toBeInstanceOf(MissingTenantError);
      await expect(runWithTenant(pool, "alpha", () => runWithTenant(pool, "beta", async () => 1))).rejects.toBeInstanceOf(TenantContextConflictError);
      expect(await runWithTenant(pool, "alpha", () => runWithTenant(pool, "alpha", async () => currentTenant()))).toBe("alpha");
      // A context-only scope (Prisma extension pattern): the tenant is known, the unit of work still opens its transaction.
      expect(await withTenantContext("beta", () => runWithTenant(pool, "beta", async (c) => (await c.query(`SELECT DISTINCT clinic_id FROM "patient"`)).rows))).toEqual([{ clinic_id: "beta" }]);
      expect(() => withTenantContext("beta", () => withTenantContext("alpha", () => 1))).toThrow(TenantContextConflictError);
    } finally {
      await pool.end();
    }
  });
});
