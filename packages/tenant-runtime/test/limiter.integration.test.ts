import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { effectiveBudgets, writeBudgets } from "../../../infra/kv/budgetStore";
import { flagChanges, flagHistory, readFlag, setKillSwitch, writeFlag } from "../../../infra/kv/flagStore";
import type { RunningRestServer } from "../../../infra/kv/upstashRestServer";
import { createTenantGuards, TenantBudgetExceededError } from "@bloom/tenant-runtime/limiter";
import { UnknownTenantError } from "@bloom/tenant-runtime";
import { startTestEndpoint } from "../../../test/redis";
import type { Redis } from "@upstash/redis";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Budgets and flags end to end: config → store (through the local REST endpoint) → the app's helpers. */
describe("tenant budgets and flags over real Redis", () => {
  let server: RunningRestServer;
  let token: string;
  let redis: Redis;
  const prefix = `test:${process.pid}:${Date.now()}:`;
  const guards = () => createTenantGuards({ url: server.url, token, prefix, cacheTtlMs: 0 });

  beforeAll(async () => {
    ({ server, token, redis } = await startTestEndpoint());
    const config = {
      tenants: [
        { id: "clinic-a", name: "A", tier: "standard" as const, isolation: "pooled" as const },
        { id: "clinic-b", name: "B", tier: "standard" as const, isolation: "pooled" as const },
        { id: "big-co", name: "Big", tier: "enterprise" as const, isolation: "dedicated" as const },
        { id: "vip", name: "VIP", tier: "standard" as const, isolation: "pooled" as const },
        { id: "fast", name: "Fast window", tier: "standard" as const, isolation: "pooled" as const },
      ],
      // Minute windows keep counts exact within a test; "fast" has a short window to watch it recover.
      limits: {
        tiers: { standard: { requests: 3, window: "1 m" }, professional: { requests: 6, window: "1 m" }, enterprise: { requests: 12, window: "1 m" } },
        tenants: { vip: { requests: 8, window: "1 m" }, fast: { requests: 3, window: "2 s" } },
      },
    };
    await writeBudgets(redis, prefix, effectiveBudgets(config));
  });
  afterAll(async () => {
    await server.close();
  });

  it("cuts a tenant at its budget within the window, with a retry-after, and lets it through again after", async () => {
    const g = guards();
    // Windows are aligned to the epoch: start early in one so all four calls land in the same window.
    while (Date.now() % 2_000 > 300) await sleep(20);
    for (let i = 0; i < 3; i++) await g.assertTenantBudget("fast", "user-1");
    const err = await g.assertTenantBudget("fast", "user-1").catch((e) => e);
    expect(err).toBeInstanceOf(TenantBudgetExceededError);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(err.retryAfterMs).toBeLessThanOrEqual(2_000);
    expect(err.message).toMatch(/tenant fast \(3 per 2 s\): retry after [12] s/);
    await sleep(err.retryAfterMs + 2_100); // the sliding window also weighs the previous window: two windows clear it
    await expect(g.assertTenantBudget("fast", "user-1")).resolves.toMatchObject({ remaining: expect.any(Number) });
  });

  it("exhausting tenant A leaves tenant B untouched", async () => {
    const g = guards();
    for (let i = 0; i < 3; i++) await g.assertTenantBudget("clinic-a", "shared-user");
    await expect(g.assertTenantBudget("clinic-a", "shared-user")).rejects.toBeInstanceOf(TenantBudgetExceededError);
    for (let i = 0; i < 3; i++) await g.assertTenantBudget("clinic-b", "shared-user");
  });

  it("gives the enterprise tier and a per-tenant override their larger budgets", async () => {
    const g = guards();
    const allowed = async (tenant: string) => {
      let n = 0;
      for (let i = 0; i < 20; i++) {
        try {
          await g.assertTenantBudget(tenant, "burst");
          n++;
        } catch (e) {
          if (!(e instanceof TenantBudgetExceededError)) throw e;
        }
      }
      return n;
    };
    expect(await allowed("big-co")).toBe(12);
    expect(await allowed("vip")).toBe(8);
    await expect(g.assertTenantBudget("ghost", "x")).rejects.toBeInstanceOf(UnknownTenantError);
  });

  it("a flag's per-tenant override beats the global value, and the kill switch beats both", async () => {
    const g = guards();
    await writeFlag(redis, prefix, { name: "tenancy_enabled", default: false, tenants: { "clinic-a": true } }, "test", "test");
    expect(await g.isEnabled("tenancy_enabled", "clinic-a")).toBe(true);
    expect(await g.isEnabled("tenancy_enabled", "clinic-b")).toBe(false);
    expect(await g.isEnabled("tenancy_enabled")).toBe(false);
    await writeFlag(redis, prefix, { name: "tenancy_enabled", default: true, tenants: { "clinic-b": false } }, "test", "test");
    expect([await g.isEnabled("tenancy_enabled", "clinic-a"), await g.isEnabled("tenancy_enabled", "clinic-b")]).toEqual([true, false]);
    await setKillSwitch(redis, prefix, "tenancy_enabled", true, "oncall");
    expect([await g.isEnabled("tenancy_enabled", "clinic-a"), await g.isEnabled("tenancy_enabled")]).toEqual([false, false]);
    await setKillSwitch(redis, prefix, "tenancy_enabled", false, "oncall");
    expect(await g.isEnabled("tenancy_enabled", "clinic-a")).toBe(true);
    expect(await g.isEnabled("never_declared", "clinic-a")).toBe(false);
  });

  it("caches flag reads for the configured time", async () => {
    let t = 0;
    const g = createTenantGuards({ url: server.url, token, prefix, cacheTtlMs: 1_000, now: () => t });
    await writeFlag(redis, prefix, { name: "cached_flag", default: false, tenants: {} }, "test", "test");
    expect(await g.isEnabled("cached_flag")).toBe(false);
    await writeFlag(redis, prefix, { name: "cached_flag", default: true, tenants: {} }, "test", "test");
    expect(await g.isEnabled("cached_flag")).toBe(false);
    t = 1_001;
    expect(await g.isEnabled("cached_flag")).toBe(true);
  });

  it("records who changed what, when, from and to — one entry per changed value, none for a no-op", async () => {
    await writeFlag(redis, prefix, { name: "audited", default: false, tenants: {} }, "alice", "pulumi up");
    await writeFlag(redis, prefix, { name: "audited", default: false, tenants: {} }, "alice", "pulumi up");
    await writeFlag(redis, prefix, { name: "audited", default: true, tenants: { pilot: true } }, "bob", "pulumi up");
    const history = await flagHistory(redis, prefix, "audited");
    expect(history).toHaveLength(3); // the no-op write added nothing
    expect(history.slice(0, 2).map((h) => [h.actor, h.scope, h.old, h.new])).toEqual(expect.arrayContaining([
      ["bob", "default", false, true],
      ["bob", "tenant:pilot", null, true],
    ]));
    expect(history.slice(2).map((h) => [h.actor, h.scope, h.old, h.new])).toEqual([["alice", "default", null, false]]);
    expect(history.every((h) => !Number.isNaN(Date.parse(h.at)))).toBe(true);
  });

  it("sees drift when the store no longer holds what is declared", async () => {
    const declared = { name: "drifty", default: false, tenants: { "clinic-a": true } };
    await writeFlag(redis, prefix, declared, "test", "test");
    expect(flagChanges(await readFlag(redis, prefix, "drifty"), declared)).toEqual([]);
    await redis.hset(`${prefix}flag:drifty`, { "tenant:clinic-a": "false" });
    expect(flagChanges(await readFlag(redis, prefix, "drifty"), declared)).toEqual([{ scope: "tenant:clinic-a", old: false, new: true }]);
  });
});
