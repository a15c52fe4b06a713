import { Client, Pool } from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTenantRouter, isTenantMaintenanceError, readTenancyMode, runWithTenant, UnknownTenantError } from "@bloom/tenant-runtime";
import { appointmentsOn } from "../../../examples/app-runtime/pgTenant";
import { writeOrUnavailable } from "../../../examples/app-runtime/maintenance";
import { databaseMode, listOr404 } from "../../../examples/app-runtime/unknownTenant";
import { setTenancyMode } from "../../../infra/tenancy/rlsModes";
import { fenceTenant, unfenceTenant } from "../../../infra/tenancy/tenantFence";
import { withClient } from "../../../infra/database/sql/withClient";
import { query, requirePostgres } from "../../../test/postgres";
import { seedTenants, type TenantDatabase } from "../../../test/tenantFixtures";
import { catalogTenants, pooledAppDatabase } from "./prismaHarness";

/**
 * The runtime with `pg` as the app uses it (issue 17, defects 1, 8 and 10), through PgBouncer as the app role, and
 * the documented snippets (examples/app-runtime) run as written.
 */
let db: TenantDatabase & { pooledAppUrl: string };
let pool: Pool;

beforeAll(async () => {
  await requirePostgres();
  db = await pooledAppDatabase("rt-pg");
  pool = new Pool({ connectionString: db.pooledAppUrl, max: 4 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});
beforeEach(async () => {
  await seedTenants(db.url);
  await catalogTenants(db.url);
  await setTenancyMode(db.url, "shadow");
});

describe("runWithTenant takes whatever pg hands the app", () => {
  it("a Pool, a PoolClient and a connected Client, each never connected twice (defect 1)", async () => {
    const viaPool = await runWithTenant(pool, "alpha", async (c) => (await c.query("SELECT count(*)::int AS n FROM patient")).rows[0].n);
    const poolClient = await pool.connect();
    const viaPoolClient = await runWithTenant(poolClient, "beta", async (c) => (await c.query("SELECT count(*)::int AS n FROM patient")).rows[0].n).finally(() => poolClient.release());
    const client = new Client({ connectionString: db.pooledAppUrl });
    await client.connect();
    const viaClient = await runWithTenant(client, "gamma", async (c) => (await c.query("SELECT DISTINCT clinic_id FROM patient")).rows).finally(() => client.end());
    expect([viaPool, viaPoolClient, viaClient]).toEqual([3, 3, [{ clinic_id: "gamma" }]]);
  });

  it("the documented pg snippet returns the tenant's rows only, with the tenant in context", async () => {
    const { clinic, rows } = await appointmentsOn(pool, "beta", "2026-12-01");
    expect(clinic).toBe("beta");
    expect(rows.map((r: { id: string }) => r.id).sort()).toEqual(["a-beta-0", "a-beta-1", "a-beta-2"]);
  });
});

describe("the maintenance error with pg", () => {
  it("BL503 is recognised, retried with the router invalidated, and ends in 503 when the fence stays", async () => {
    const router = createTenantRouter({ pool, poolUrl: db.pooledAppUrl, credentialsFor: () => "unused" });
    await withClient(db.url, (c) => fenceTenant(c, "alpha", "moving"));
    const write = () => runWithTenant(pool, "alpha", (c) => c.query(`INSERT INTO branch (id, name) VALUES ('b-m', 'm')`));
    const err = await write().catch((e) => e);
    expect(isTenantMaintenanceError(err)).toBe(true);
    let retries = 0;
    const gaveUp = await writeOrUnavailable(write, () => { retries++; router.invalidate("alpha"); });
    expect(gaveUp).toEqual({ status: 503, retryAfterSeconds: 2 });
    expect(retries).toBe(5);
    await withClient(db.url, (c) => unfenceTenant(c, "alpha"));
    expect(await writeOrUnavailable(write)).toMatchObject({ status: 200 });
    expect(await query(db.url, `SELECT clinic_id FROM branch WHERE id = 'b-m'`)).toEqual([{ clinic_id: "alpha" }]);
  });
});

describe("unknown clinics and the mode (defect 10)", () => {
  it("an unknown clinic is a 404, a known clinic without rows a 200 with []", async () => {
    await query(db.url, `INSERT INTO clinic (id, name) VALUES ('empty', 'Empty') ON CONFLICT DO NOTHING`);
    await query(db.url, `INSERT INTO bloom_platform.tenants (id, isolation, location) VALUES ('empty', 'pooled', '{"kind":"pool"}') ON CONFLICT DO NOTHING`);
    const router = createTenantRouter({ pool, poolUrl: db.pooledAppUrl, credentialsFor: () => "unused" });
    const list = (clinic: string) => () => runWithTenant(pool, clinic, async (c) => (await c.query("SELECT id FROM appointment")).rows);
    expect(await listOr404(router, "empty", list("empty"))).toEqual({ status: 200, body: [] });
    expect(await listOr404(router, "nobody", list("nobody"))).toEqual({ status: 404 });
    await expect(router.resolveTenantConnection("nobody")).rejects.toBeInstanceOf(UnknownTenantError);
  });

  it("the app reads the database's mode through bloom_tenancy_mode(), and follows a switch", async () => {
    expect(await databaseMode(pool)).toBe("shadow");
    await setTenancyMode(db.url, "enforce");
    expect(await readTenancyMode(pool)).toBe("enforce");
  });
});
