import type { Stack } from "@pulumi/pulumi/automation";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackConfig, REPO_ROOT } from "../../infra/config/stackFile";
import { findEngine } from "../../scripts/engine/engineLocation";
import { applyConfig, openPlatformStack } from "../../scripts/engine/localStack";
import { query, requirePostgres, TEST_PG_URL, uniqueName } from "../../test/postgres";
import { freePort } from "../../test/kvPort";
import { stopLocalRestEndpoint } from "../../infra/kv/localEndpoint";

/**
 * The real engine on the local stack: up → SQL checks → preview (no changes) → refresh (no drift) → add a tenant →
 * up changes only that → destroy removes what the stack made and nothing else.
 */
const engine = findEngine();
const mustRun = process.env.CI === "true";
if (!engine && !mustRun) console.warn("[e2e] SKIPPED: no Pulumi CLI — run `npm run setup:pulumi` first");

describe.skipIf(!engine && !mustRun)("platform stack on the real Pulumi engine (local backend)", () => {
  const stackName = uniqueName("e2e");
  const root = path.join(REPO_ROOT, ".bloom", "e2e");
  const config: Record<string, string> = { ...readStackConfig("local"), "bloom:database": JSON.stringify({ backend: "local", local: { serverUrl: TEST_PG_URL, poolerPort: Number(process.env.BLOOM_TEST_POOLER_PORT) } }) };
  let kvPort = 0;
  const bystander = uniqueName("bystander").replace(/-/g, "_");
  let stack: Stack;

  beforeAll(async () => {
    if (!engine) throw new Error("CI=true and no Pulumi CLI was found: `npm run setup:pulumi` must run before the e2e suite");
    await requirePostgres();
    await query(TEST_PG_URL, `CREATE DATABASE ${bystander}`);
    kvPort = await freePort();
    config["bloom:kv"] = JSON.stringify({ backend: "local", local: { port: kvPort } });
    stack = await openPlatformStack({ stackName, config, root });
  });
  afterAll(async () => {
    await stack?.destroy().catch(() => undefined);
    await stack?.workspace.removeStack(stackName).catch(() => undefined); // the shared state folder keeps no leftovers
    await query(TEST_PG_URL, `DROP DATABASE IF EXISTS ${bystander}`);
    rmSync(path.join(root, stackName), { recursive: true, force: true });
    stopLocalRestEndpoint(kvPort, undefined, { forget: true });
  });

  it("up creates the pool database, its roles, and an app role that cannot bypass RLS", async () => {
    const res = await stack.up();
    expect(res.summary.result).toBe("succeeded");
    expect(res.summary.resourceChanges?.create).toBe(24); // 20 + a catalog record and store settings per tenant
    // Each declared tenant has its clinic row and its catalog row after up.
    expect(await query(res.outputs.migratorDatabaseUrl!.value as string, `SELECT c.id, t.isolation FROM clinic c JOIN bloom_platform.tenants t USING (id) ORDER BY 1`))
      .toEqual([{ id: "legacy", isolation: "pooled" }, { id: "pilot", isolation: "pooled" }]);
    const [mode] = await query<{ mode: string }>(res.outputs.migratorDatabaseUrl!.value as string, 'SELECT "mode" FROM "bloom_platform"."tenancy_settings"');
    expect(mode).toEqual({ mode: "shadow" }); // tenancy_enabled is off by default: RLS observes, does not block
    const dbs = await query<{ datname: string }>(TEST_PG_URL, "SELECT datname FROM pg_database WHERE datname = 'bloom_local__main'");
    expect(dbs).toHaveLength(1);
    const roles = await query<{ rolname: string; rolbypassrls: boolean; rolsuper: boolean }>(TEST_PG_URL, "SELECT rolname, rolbypassrls, rolsuper FROM pg_roles WHERE rolname LIKE 'bloom_local__%' ORDER BY rolname");
    expect(roles).toEqual([
      { rolname: "bloom_local__bloom_app", rolbypassrls: false, rolsuper: false },
      { rolname: "bloom_local__bloom_migrator", rolbypassrls: true, rolsuper: false }, // runs migrations and backfills
    ]);
    expect(res.outputs.appDatabaseUrl?.secret).toBe(true);
    const app = new Client({ connectionString: res.outputs.appDatabaseUrl!.value as string });
    await app.connect();
    const who = (await app.query("SELECT current_user AS u, current_database() AS d")).rows[0];
    // The app's privileges were granted after the migrations (TenantBoundary): it works as a tenant, per transaction.
    const { runWithTenant } = await import("@bloom/tenant-runtime");
    const inserted = await runWithTenant(app, "legacy", (c) => c.query(`INSERT INTO "patient" (id, name) VALUES ('e2e-p', 'E2E') RETURNING clinic_id`));
    await expect(app.query(`SELECT * FROM "_prisma_migrations"`)).rejects.toMatchObject({ code: "42501" });
    await app.end();
    expect(who).toEqual({ u: "bloom_local__bloom_app", d: "bloom_local__main" });
    expect(inserted.rows).toEqual([{ clinic_id: "legacy" }]);
    // The pooled URL goes through PgBouncer (transaction pooling), as Neon's pooled endpoint does.
    expect(new URL(res.outputs.appDatabaseUrl!.value as string).port).toBe(process.env.BLOOM_TEST_POOLER_PORT);
  });

  it("writes the declared flags and tenant budgets to the store, readable with @upstash/redis", async () => {
    const outputs = await stack.outputs();
    expect([outputs.kvRestToken?.secret, outputs.kvAppReadToken?.secret, outputs.kvAppLimiterToken?.secret]).toEqual([true, true, true]);
    const { createTenantGuards } = await import("@bloom/tenant-runtime/limiter");
    // As the app runs: with its two scoped tokens, not the platform's.
    const guards = createTenantGuards({ url: outputs.kvRestUrl!.value as string, readToken: outputs.kvAppReadToken!.value as string,
      limiterToken: outputs.kvAppLimiterToken!.value as string, prefix: outputs.kvKeyPrefix!.value as string, cacheTtlMs: 0 });
    expect(await guards.isEnabled("tenancy_enabled", "pilot")).toBe(true);
    expect(await guards.isEnabled("tenancy_enabled", "legacy")).toBe(false);
    await expect(guards.assertTenantBudget("legacy", "user-1")).resolves.toMatchObject({ remaining: 99 });
    const { kvClient } = await import("../../infra/kv/kvDatabase");
    const appReader = kvClient(outputs.kvRestUrl!.value as string, outputs.kvAppReadToken!.value as string);
    await expect(appReader.set(`${outputs.kvKeyPrefix!.value as string}flag:tenancy_enabled:kill`, "1")).rejects.toThrow(/NOPERM|permission/i);
  });

  it("bloom status on the stack: rows in two tenants, a shadow-mode hit, a rate-limited tenant", async () => {
    const outputs = await stack.outputs();
    const migratorUrl = outputs.migratorDatabaseUrl!.value as string;
    const prefix = outputs.kvKeyPrefix!.value as string;
    await query(migratorUrl, `INSERT INTO patient (id, name, clinic_id) VALUES ('st-l1', 'L1', 'legacy'), ('st-l2', 'L2', 'legacy'), ('st-p1', 'P1', 'pilot')`);
    const app = new Client({ connectionString: outputs.appDatabaseUrl!.value as string });
    await app.connect();
    await app.query(`SELECT count(*) FROM "patient"`); // no tenant: a shadow-mode hit
    await app.end();
    const { createTenantGuards } = await import("@bloom/tenant-runtime/limiter");
    const at = Date.now(); // one clock for the guards and the status, so the minute bucket is the same
    const guards = createTenantGuards({ url: outputs.kvRestUrl!.value as string, readToken: outputs.kvAppReadToken!.value as string, limiterToken: outputs.kvAppLimiterToken!.value as string, prefix, cacheTtlMs: 60_000, now: () => at });
    let rejected = 0;
    for (let i = 0; i < 102; i++) await guards.assertTenantBudget("legacy", "status-probe").catch(() => rejected++); // standard: 100 per minute
    await guards.flushAnalytics(); // a refusal answers at once; its record goes with the batch
    const { collectStatus, renderStatus } = await import("../../infra/status/environmentStatus");
    const { kvClient } = await import("../../infra/kv/kvDatabase");
    const { createDatabaseBackend } = await import("../../infra");
    const { validatePlatformConfig } = await import("../../infra/config/validate");
    const { configReader } = await import("../../infra/config/stackFile");
    const { loadMigrations } = await import("../../infra/migrations/migrationSource");
    const backend = createDatabaseBackend({ kind: "local", serverUrl: TEST_PG_URL });
    try {
      const status = await collectStatus({
        stack: stackName,
        config: validatePlatformConfig(configReader(config), stackName),
        migratorUrl,
        store: { redis: kvClient(outputs.kvRestUrl!.value as string, outputs.kvRestToken!.value as string), prefix },
        backend,
        projectId: outputs.poolProjectId!.value as string,
        migrations: loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")),
        now: at,
      });
      expect(status.tenants.map((t) => [t.id, t.rows])).toEqual([["legacy", 3], ["pilot", 1]]); // 2 here + the first test's
      expect(status.tenants.find((t) => t.id === "legacy")!.rejectedThisHour).toBe(rejected);
      expect(rejected).toBeGreaterThanOrEqual(1);
      expect(status.tenantlessAccess.patient).toBeGreaterThanOrEqual(1);
      expect(status.tenancyMode).toBe("shadow");
      expect(status.migrations.pending).toEqual([]);
      expect(status.snapshots.map((s) => s.name)).toContain((outputs.preDeploySnapshots!.value as Record<string, string>).pool);
      expect(renderStatus(status)).toMatch(/legacy\s+standard\s+pooled\s+3/);
    } finally {
      await backend.close();
    }
  });

  it("keeps every credential out of the state files in plain text: passwords, connection strings, store tokens", async () => {
    const outputs = await stack.outputs();
    // Every secret output, and for connection strings their password too (a URL can be re-encoded elsewhere).
    const secrets = Object.values(outputs).filter((o) => o.secret).flatMap((o) => {
      const text = typeof o.value === "string" ? o.value : JSON.stringify(o.value);
      const password = /^postgres(ql)?:\/\//.test(text) ? decodeURIComponent(new URL(text).password) : "";
      return [text, password].filter((v) => v.length >= 8);
    });
    expect(secrets.length).toBeGreaterThanOrEqual(7); // app and migrator URLs and passwords, three store tokens
    const stateFiles = walk(path.join(root, "state")).filter((f) => f.endsWith(".json"));
    expect(stateFiles.length).toBeGreaterThan(0);
    for (const file of stateFiles) {
      const text = readFileSync(file, "utf8");
      const leaked = secrets.filter((s) => text.includes(s)).map((s) => `${s.slice(0, 6)}…`);
      expect(leaked, `credentials in plain text in ${path.basename(file)}`).toEqual([]);
    }
  });

  it("preview right after up reports no changes", async () => {
    const res = await stack.preview();
    const changes = Object.entries(res.changeSummary).filter(([op]) => op !== "same");
    expect(changes).toEqual([]);
  });

  it("refresh finds no drift", async () => {
    const res = await stack.refresh();
    expect(res.summary.result).toBe("succeeded");
    expect(Object.keys(res.summary.resourceChanges ?? {}).filter((k) => k !== "same")).toEqual([]);
  });

  it("refresh sees a flag changed by hand in the store, and the next up puts the declared value back", async () => {
    const outputs = await stack.outputs();
    const { kvClient } = await import("../../infra/kv/kvDatabase");
    const redis = kvClient(outputs.kvRestUrl!.value as string, outputs.kvRestToken!.value as string);
    const key = `${outputs.kvKeyPrefix!.value as string}flag:tenancy_enabled`;
    await redis.hset(key, { "tenant:pilot": "false" });
    await stack.refresh();
    const preview = await stack.preview();
    expect(preview.changeSummary.update).toBe(1);
    await stack.up();
    expect(await redis.hget(key, "tenant:pilot")).toBe(true);
  });

  it("the app changing its own role (settings, password) and the store forgetting the limiter's scripts: each is an update in preview with the drift named, repaired by up", async () => {
    const outputs = await stack.outputs();
    const appUrl = outputs.appDatabaseUrl!.value as string;
    const app = new Client({ connectionString: appUrl });
    await app.connect();
    await app.query(`ALTER ROLE CURRENT_USER SET default_transaction_read_only = on`);
    await app.query(`ALTER ROLE CURRENT_USER PASSWORD 'the-app-owns-it-now'`);
    await app.end();
    // The AppRole is an update though no input changed (its diff asks the database); in a preview its outputs are
    // unknown, so what reads them shows as updates too, which the up then finds unchanged (same password).
    const roleDrift = await stack.preview();
    expect(roleDrift.stdout).toMatch(/~ +pulumi-nodejs:dynamic\/bloom:AppRole pool-app-role update/);
    expect(roleDrift.stdout).toMatch(/app role bloom_local__bloom_app drifted \(settings, password\)/);
    const repaired = await stack.up();
    expect(repaired.stdout).toMatch(/~ +pulumi-nodejs:dynamic\/bloom:AppRole pool-app-role updated/);
    const back = new Client({ connectionString: appUrl }); // the platform's password works again, writes too
    await back.connect();
    const { runWithTenant } = await import("@bloom/tenant-runtime");
    await runWithTenant(back, "legacy", (c) => c.query(`INSERT INTO "patient" (id, name) VALUES ('e2e-role-back', 'E2E')`));
    await back.end();

    const { adminCommand } = await import("../../infra/kv/adminCommand");
    const { missingLimiterScripts } = await import("../../infra/kv/limiterScripts");
    const [restUrl, adminToken] = [outputs.kvRestUrl!.value as string, outputs.kvRestToken!.value as string];
    await adminCommand(restUrl, adminToken, ["SCRIPT", "FLUSH"]); // what a store restart does to loaded scripts
    const scriptDrift = await stack.preview();
    expect(scriptDrift.stdout).toMatch(/~ +pulumi-nodejs:dynamic\/bloom:KvAppAccess \S+ update/);
    expect(scriptDrift.stdout).toMatch(/no longer holds 4 of the limiter's scripts/);
    await stack.up();
    expect(await missingLimiterScripts(restUrl, adminToken)).toEqual([]);
    expect((await stack.preview()).changeSummary.update ?? 0).toBe(0);
  });

  it("adding a tenant changes only that tenant", async () => {
    const tenants = JSON.parse(config["bloom:tenants"]!);
    tenants.push({ id: "new-clinic", name: "New Clinic", tier: "standard", isolation: "pooled" });
    await applyConfig(stack, { ...config, "bloom:tenants": JSON.stringify(tenants) });
    const res = await stack.up();
    const changes = res.summary.resourceChanges ?? {};
    expect(changes.create).toBe(3); // the tenant, its catalog record, its budget and overrides in the store
    // Nothing outside the new tenant's subtree changes: its budget is its own entry, not an edit of a shared one.
    expect(changes.update ?? 0).toBe(0);
    expect(changes.replace ?? 0).toBe(0);
    expect(changes.delete ?? 0).toBe(0);
    expect((res.outputs.tenantCatalog!.value as { id: string }[]).map((t) => t.id)).toContain("new-clinic");
    const { kvClient } = await import("../../infra/kv/kvDatabase");
    const { readBudgets } = await import("../../infra/kv/budgetStore");
    const redis = kvClient(res.outputs.kvRestUrl!.value as string, res.outputs.kvRestToken!.value as string);
    const limits = JSON.parse(config["bloom:limits"]!);
    // The tier's budget, with the tenant-wide cap it declares or ten identifiers' worth, and at once one identifier's budget (or a 25th of the total, if more).
    const tier = limits.tiers.standard as { requests: number; window: string; tenantRequests?: number; tenantBurst?: number };
    const tenantRequests = tier.tenantRequests ?? tier.requests * 10;
    expect((await readBudgets(redis, res.outputs.kvKeyPrefix!.value as string)).tenants["new-clinic"]).toEqual({ ...tier, tenantRequests, tenantBurst: tier.tenantBurst ?? Math.max(tier.requests, Math.ceil(tenantRequests / 25)) });
  });

  it("a kill of tenancy_enabled survives the next up, even one that changes the declared value", async () => {
    const outputs = await stack.outputs();
    const store = { restUrl: outputs.kvRestUrl!.value as string, restToken: outputs.kvRestToken!.value as string, prefix: outputs.kvKeyPrefix!.value as string };
    const migratorUrl = outputs.migratorDatabaseUrl!.value as string;
    const { setKillSwitch } = await import("../../infra/kv/flagStore");
    const { applyTenancyModeFromStore } = await import("../../infra/tenancy/modeFromStore");
    const { kvClient } = await import("../../infra/kv/kvDatabase");
    const declared = JSON.parse(config["bloom:flags"]!);
    try {
      // What `bloom flags kill tenancy_enabled` does: the kill switch, then the one writer of the mode.
      await setKillSwitch(kvClient(store.restUrl, store.restToken), store.prefix, "tenancy_enabled", true, "e2e");
      await applyTenancyModeFromStore(store, [migratorUrl]);
      await applyConfig(stack, { ...config, "bloom:flags": JSON.stringify({ ...declared, tenancy_enabled: { ...declared.tenancy_enabled, default: true } }) });
      const up = await stack.up();
      expect(up.outputs.tenancyMode!.value).toBe("shadow");
      expect(await query(migratorUrl, 'SELECT "mode" FROM "bloom_platform"."tenancy_settings"')).toEqual([{ mode: "shadow" }]);
    } finally {
      await setKillSwitch(kvClient(store.restUrl, store.restToken), store.prefix, "tenancy_enabled", false, "e2e");
      await applyConfig(stack, config);
      await stack.up();
    }
    expect(await query(migratorUrl, 'SELECT "mode" FROM "bloom_platform"."tenancy_settings"')).toEqual([{ mode: "shadow" }]); // declared off again
  });

  it("refresh notices a pool database dropped out of band", async () => {
    const outputs = await stack.outputs();
    // The pooler keeps idle server connections to the database: an operator's rename has to end them first too.
    await query(TEST_PG_URL, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'bloom_local__main'");
    await query(TEST_PG_URL, "ALTER DATABASE bloom_local__main RENAME TO bloom_local__main_moved");
    try {
      const res = await stack.refresh();
      expect(res.summary.resourceChanges?.delete ?? 0).toBeGreaterThanOrEqual(1);
    } finally {
      await query(TEST_PG_URL, "ALTER DATABASE bloom_local__main_moved RENAME TO bloom_local__main");
    }
    expect(outputs.poolProjectId?.value).toBe("bloom-local");
    const up = await stack.up(); // the next up adopts the database again (ensure* is idempotent by name)
    expect(up.summary.resourceChanges?.create ?? 0).toBeGreaterThanOrEqual(1);
  });

  it("destroy removes the stack's databases and roles and leaves everything else", async () => {
    const res = await stack.destroy();
    expect(res.summary.result).toBe("succeeded");
    expect(await query(TEST_PG_URL, "SELECT 1 FROM pg_database WHERE datname LIKE 'bloom_local__%'")).toEqual([]);
    expect(await query(TEST_PG_URL, "SELECT 1 FROM pg_roles WHERE rolname LIKE 'bloom_local__%'")).toEqual([]);
    expect(await query(TEST_PG_URL, "SELECT 1 FROM pg_database WHERE datname = $1", [bystander])).toHaveLength(1);
    const { Redis } = await import("ioredis");
    const redis = new Redis(process.env.BLOOM_TEST_REDIS_URL!); // the store Redis the stack uses (the harness started it)
    // Flags and budgets are gone. The audit trail is kept on purpose (it records the destroy too), and rate-limit
    // counters expire on their own.
    const left = await redis.keys(`bloom:${stackName}:*`);
    expect(left.filter((k) => !k.endsWith(":flags:audit") && !k.includes(":rl:"))).toEqual([]);
    for (const k of left.filter((k) => k.includes(":rl:"))) expect(await redis.ttl(k)).toBeGreaterThan(0);
    const audit = (await redis.lrange(`bloom:${stackName}:flags:audit`, 0, -1)).map((e) => JSON.parse(e));
    expect(audit[0]).toMatchObject({ source: "pulumi destroy", flag: "tenancy_enabled", new: null });
    await redis.del(`bloom:${stackName}:flags:audit`);
    // The app's ACL users go with the stack.
    expect(((await redis.call("ACL", "USERS")) as string[]).filter((u) => u.includes(stackName))).toEqual([]);
    redis.disconnect();
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
