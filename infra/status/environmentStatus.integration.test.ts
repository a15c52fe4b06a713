import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { collectStatus, renderStatus } from "./environmentStatus";
import { throughPooler } from "../database/local/pgbouncer";
import { ensureAppRole } from "../database/sql/appRole";
import { hoursFromNow } from "../time";
import { setTenancyMode } from "../tenancy/rlsModes";
import { writeBudgets } from "../kv/budgetStore";
import { createTenantGuards } from "@bloom/tenant-runtime/limiter";
import { ensureAppKvAccess, adminCommand } from "../kv/appAccess";
import { loadMigrations } from "../migrations/migrationSource";
import { REPO_ROOT } from "../config/stackFile";
import { validatePlatformConfig } from "../config/validate";
import { asApp, tenantDatabase, type TenantDatabase } from "../../test/tenantFixtures";
import { query, requirePostgres } from "../../test/postgres";
import { startTestEndpoint } from "../../test/redis";

/** `bloom status` on real services: data in two tenants, shadow-mode hits, one tenant rate-limited. */
describe("bloom status (real Postgres, Redis, branch backend)", () => {
  let db: TenantDatabase;
  let endpoint: Awaited<ReturnType<typeof startTestEndpoint>>;
  const prefix = `bloom:status-${Date.now().toString(36)}:`;
  let users: string[] = [];

  beforeAll(async () => {
    await requirePostgres();
    db = await tenantDatabase("status");
    endpoint = await startTestEndpoint();
  });
  afterAll(async () => {
    if (users.length) await adminCommand(endpoint.server.url, endpoint.token, ["ACL", "DELUSER", ...users]).catch(() => undefined);
    await endpoint?.server.close();
    await db?.drop();
  });

  it("shows rows per tenant, tenant-less accesses, the rate-limited tenant, migrations and snapshots", async () => {
    await query(db.url, `INSERT INTO clinic (id, name) VALUES ('alpha', 'Alpha'), ('beta', 'Beta')`);
    await query(db.url, `INSERT INTO patient (id, name, clinic_id) SELECT 'pa' || g, 'P', 'alpha' FROM generate_series(1, 5) g`);
    await query(db.url, `INSERT INTO patient (id, name, clinic_id) SELECT 'pb' || g, 'P', 'beta' FROM generate_series(1, 3) g`);
    await query(db.url, `INSERT INTO branch (id, name, clinic_id) VALUES ('ba', 'B', 'alpha')`);
    await setTenancyMode(db.url, "shadow");
    await asApp(db.appUrl, null, `SELECT * FROM "patient"`); // a shadow-mode hit
    await writeBudgets(endpoint.redis, prefix, { tenants: { alpha: { requests: 100, window: "1 m" }, beta: { requests: 2, window: "1 m" } }, tiers: {} });
    const access = await ensureAppKvAccess(endpoint.server.url, endpoint.token, prefix, `bloom-app-status-${Date.now().toString(36)}`);
    users = [access.readerUser, access.limiterUser];
    const at = Date.now(); // one clock for the guards and the status: the same minute bucket
    const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, cacheTtlMs: 0, now: () => at });
    for (let i = 0; i < 5; i++) await guards.assertTenantBudget("beta", "u1").catch(() => undefined); // 3 rejected
    await guards.flushAnalytics(); // a refusal answers at once; its record goes with the batch
    const snapshotExpiry = hoursFromNow(24);
    await db.backend.ensureBranch({ projectId: db.projectId, name: "snap-status", expiresAt: snapshotExpiry });

    const config = validatePlatformConfig((k) => ({ environment: "local", database: { backend: "local" }, tenants: [
      { id: "alpha", name: "Alpha", tier: "standard", isolation: "pooled" },
      { id: "beta", name: "Beta", tier: "professional", isolation: "pooled" },
    ] } as Record<string, unknown>)[k]);
    const status = await collectStatus({ stack: "local", config, migratorUrl: db.url, store: { redis: endpoint.redis, prefix }, backend: db.backend, projectId: db.projectId, migrations: loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), now: at });

    expect(status.tenants.map((t) => [t.id, t.rows, t.rejectedThisHour])).toEqual([["alpha", 6, 0], ["beta", 3, 3]]);
    expect(status.tenancyMode).toBe("shadow");
    expect(status.tenantlessAccess.patient).toBeGreaterThanOrEqual(1);
    expect(status.migrations.pending).toEqual([]);
    expect(status.migrations.lastApplied).toMatch(/^2026/);
    expect(status.snapshots).toEqual([{ name: "snap-status", createdAt: expect.any(String), expiresAt: snapshotExpiry }]);
    expect(status.totals).toMatchObject({ tenants: 2, rows: 9, rejectedThisHour: 3 });
    const text = renderStatus(status);
    expect(text).toMatch(/RLS mode: shadow/);
    expect(text).toMatch(/beta\s+professional\s+pooled\s+3\s+3\s+pool/);
  });

  it("shows the app role as applied, then the drift when the app changed its own role (issue 22)", async () => {
    const pooler = { host: "127.0.0.1", port: Number(process.env.BLOOM_TEST_POOLER_PORT), stateDir: "" };
    const config = validatePlatformConfig((k) => ({ environment: "local", database: { backend: "local" }, tenants: [] } as Record<string, unknown>)[k]);
    const sources = { stack: "local", config, migratorUrl: db.url, store: { redis: endpoint.redis, prefix }, backend: db.backend, projectId: db.projectId,
      migrations: loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), appRole: { name: db.appRole, pooledUrl: throughPooler(db.appUrl, pooler) } };
    expect((await collectStatus(sources)).appRoleDrift).toEqual([]);
    expect(renderStatus(await collectStatus(sources))).toMatch(/app role: as the last `up` applied it/);
    await asApp(db.appUrl, null, `ALTER ROLE CURRENT_USER SET work_mem = '1GB'; ALTER ROLE CURRENT_USER PASSWORD 'mine-now'; SELECT 1`);
    const drifted = await collectStatus(sources);
    expect(drifted.appRoleDrift).toHaveLength(2);
    expect(renderStatus(drifted)).toMatch(/app role: DRIFTED — its settings differ .*work_mem=1GB.*password no longer authenticates/);
    await ensureAppRole(db.url, db.appRole, new URL(db.appUrl).password);
    expect((await collectStatus(sources)).appRoleDrift).toEqual([]);
  });
});
