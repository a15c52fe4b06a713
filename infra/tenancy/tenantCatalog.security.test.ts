import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeTenantRecord, upsertTenantRecord } from "./tenantCatalog";
import { requirePostgres, query } from "../../test/postgres";
import { asApp, tenantDatabase, type TenantDatabase } from "../../test/tenantFixtures";

/** The tenant catalog: written by the migrator on `up`, read by the app one tenant at a time, never written by it. */
describe("tenant catalog and clinic rows", () => {
  let db: TenantDatabase;
  beforeAll(async () => {
    await requirePostgres();
    db = await tenantDatabase("catalog");
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("a declared tenant gets its clinic row and catalog row; the app reads one tenant's location, not the catalog", async () => {
    await upsertTenantRecord(db.url, { id: "acme", name: "Acme", tier: "professional", isolation: "pooled", location: { kind: "pool" } });
    await upsertTenantRecord(db.url, { id: "zen", name: "Zen", tier: "enterprise", isolation: "dedicated", location: { kind: "dedicated", stack: "staging-zen", project: "bloom-staging-zen" } });
    await upsertTenantRecord(db.url, { id: "acme", name: "Acme Dental", tier: "enterprise", isolation: "pooled", location: { kind: "pool" } }); // an update
    expect(await query(db.url, `SELECT id, name, tier FROM clinic WHERE id IN ('acme', 'zen') ORDER BY id`)).toEqual([{ id: "acme", name: "Acme Dental", tier: "enterprise" }]); // zen's lives in its own database
    expect((await asApp(db.appUrl, "acme", `SELECT * FROM bloom_tenant_location('zen')`)).rows).toEqual([{ isolation: "dedicated", location: { kind: "dedicated", stack: "staging-zen", project: "bloom-staging-zen" }, move_state: "settled" }]);
    expect((await asApp(db.appUrl, "acme", `SELECT * FROM bloom_platform.tenants`)).code).toBe("42501");
    expect((await asApp(db.appUrl, "acme", `UPDATE bloom_platform.tenants SET move_state = 'extracting'`)).code).toBe("42501");
  });

  it("the app reads the tenancy mode through bloom_tenancy_mode(), and cannot change it", async () => {
    expect((await asApp(db.appUrl, "acme", `SELECT bloom_tenancy_mode() AS mode`)).rows).toEqual([{ mode: "shadow" }]);
    expect((await asApp(db.appUrl, null, `SELECT bloom_tenancy_mode() AS mode`)).rows).toEqual([{ mode: "shadow" }]);
    expect((await asApp(db.appUrl, "acme", `UPDATE bloom_platform.tenancy_settings SET mode = 'shadow'`)).code).toBe("42501");
    expect((await asApp(db.appUrl, "acme", `SELECT * FROM bloom_platform.tenancy_settings`)).code).toBe("42501");
    // A temp function or table cannot shadow what it reads: TEMP is revoked, and its search_path is pinned.
    expect((await asApp(db.appUrl, "acme", `CREATE TEMP TABLE tenancy_settings (id bool, mode text)`)).code).toBe("42501");
  });

  it("taking a tenant that holds rows out of config is refused, naming the way forward; an empty one goes", async () => {
    await query(db.url, `INSERT INTO patient (id, name, clinic_id) VALUES ('cat-p1', 'P', 'acme')`);
    await expect(removeTenantRecord(db.url, "acme")).rejects.toThrow(/tenant "acme" still holds 1 rows.*offboarded.*bloom tenants offboard/);
    expect(await query(db.url, `SELECT count(*)::int AS n FROM bloom_platform.tenants WHERE id = 'acme'`)).toEqual([{ n: 1 }]);
    await removeTenantRecord(db.url, "zen");
    expect(await query(db.url, `SELECT count(*)::int AS n FROM bloom_platform.tenants WHERE id = 'zen'`)).toEqual([{ n: 0 }]);
  });
});

describe("resolveTenantConnection (the app's routing contract)", () => {
  let db: TenantDatabase;
  beforeAll(async () => {
    await requirePostgres();
    db = await tenantDatabase("routing");
    await upsertTenantRecord(db.url, { id: "acme", name: "Acme", tier: "standard", isolation: "pooled", location: { kind: "pool" } });
    await upsertTenantRecord(db.url, { id: "zen", name: "Zen", tier: "enterprise", isolation: "dedicated", location: { kind: "dedicated", stack: "staging-zen", project: "bloom-staging-zen" } });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("pooled tenants get the pool, dedicated ones their own database from the secret store; cached until invalidated", async () => {
    const { Pool } = await import("pg");
    const { createTenantRouter, TenantNotInCatalogError } = await import("@bloom/tenant-runtime");
    const pool = new Pool({ connectionString: db.appUrl, max: 1 });
    let t = 0;
    const asked: string[] = [];
    const router = createTenantRouter({ pool, poolUrl: db.appUrl, credentialsFor: (id, loc) => (asked.push(`${id}@${loc.project}`), `postgres://zen-app@zen.invalid/bloom`), now: () => t });
    try {
      expect(await router.resolveTenantConnection("acme")).toEqual({ tenantId: "acme", kind: "pool", url: db.appUrl, moveState: "settled" });
      expect(await router.resolveTenantConnection("zen")).toMatchObject({ kind: "dedicated", url: "postgres://zen-app@zen.invalid/bloom" });
      await query(db.url, `UPDATE bloom_platform.tenants SET location = '{"kind":"pool"}', isolation = 'pooled' WHERE id = 'zen'`); // zen returned to the pool
      expect((await router.resolveTenantConnection("zen")).kind).toBe("dedicated"); // cached
      router.invalidate("zen");
      expect((await router.resolveTenantConnection("zen")).kind).toBe("pool");
      t += 10_000;
      await expect(router.resolveTenantConnection("ghost")).rejects.toBeInstanceOf(TenantNotInCatalogError);
      expect(asked).toEqual(["zen@bloom-staging-zen"]);
    } finally {
      await pool.end();
    }
  });
});
