import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "@upstash/redis";
import { readBudgets, readTenantBudget, writeBudgets, writeTenantBudget } from "./budgetStore";
import { flagHistory, readFlag, readTenantOverrides, writeFlag, writeTenantOverrides } from "./flagStore";
import type { RunningRestServer } from "./upstashRestServer";
import { startTestEndpoint } from "../../test/redis";

/**
 * Each tenant owns its entries in the store (its budget field, its `tenant:<id>` field in each flag) while the
 * platform owns flag defaults and tier budgets: the two writers never undo each other.
 */
describe("a tenant's budget and flag overrides in the store (real Redis)", () => {
  let server: RunningRestServer;
  let redis: Redis;
  const prefix = `test:settings:${process.pid}:${Date.now()}:`;
  const budget = { requests: 5, window: "1 m" };

  beforeAll(async () => {
    ({ server, redis } = await startTestEndpoint());
    await writeFlag(redis, prefix, { name: "tenancy_enabled", default: false }, "test", "pulumi up");
    await writeFlag(redis, prefix, { name: "new_calendar", default: true }, "test", "pulumi up");
  });
  afterAll(async () => {
    await server.close();
  });

  it("writes one tenant's overrides across flags, audited, and leaves other tenants' overrides alone", async () => {
    await writeTenantOverrides(redis, prefix, "beta", { new_calendar: false }, "test", "pulumi up");
    const entries = await writeTenantOverrides(redis, prefix, "alpha", { tenancy_enabled: true, new_calendar: false }, "carol", "pulumi up");
    expect(entries.map((e) => [e.actor, e.flag, e.scope, e.old, e.new]).sort()).toEqual([
      ["carol", "new_calendar", "tenant:alpha", null, false],
      ["carol", "tenancy_enabled", "tenant:alpha", null, true],
    ]);
    expect((await readTenantOverrides(redis, prefix, "alpha")).overrides).toEqual({ tenancy_enabled: true, new_calendar: false });
    // Dropping one override removes only that field; a rerun with the same values writes (and audits) nothing.
    await writeTenantOverrides(redis, prefix, "alpha", { tenancy_enabled: true }, "carol", "pulumi up");
    expect(await writeTenantOverrides(redis, prefix, "alpha", { tenancy_enabled: true }, "carol", "pulumi up")).toEqual([]);
    expect((await readFlag(redis, prefix, "new_calendar")).tenants).toEqual({ beta: false });
    expect((await flagHistory(redis, prefix, "new_calendar"))[0]).toMatchObject({ scope: "tenant:alpha", old: false, new: null });
  });

  it("a flag's default write (the platform's) keeps the tenants' overrides; a full declaration still replaces them", async () => {
    await writeTenantOverrides(redis, prefix, "gamma", { tenancy_enabled: true }, "test", "pulumi up");
    await writeFlag(redis, prefix, { name: "tenancy_enabled", default: true, description: "RLS on" }, "test", "pulumi up");
    const state = await readFlag(redis, prefix, "tenancy_enabled");
    expect(state.default).toBe(true);
    expect(state.tenants).toMatchObject({ alpha: true, gamma: true });
    await writeFlag(redis, prefix, { name: "tenancy_enabled", default: true, tenants: { alpha: true } }, "test", "bloom flags set");
    expect((await readFlag(redis, prefix, "tenancy_enabled")).tenants).toEqual({ alpha: true });
  });

  it("refuses an override on a flag the store does not declare, writing nothing", async () => {
    await expect(writeTenantOverrides(redis, prefix, "alpha", { tenancy_enabled: false, ghost_flag: true }, "test", "pulumi up"))
      .rejects.toThrow(/tenant alpha: override on flag\(s\) not in the store: ghost_flag; declare them under bloom:flags/);
    expect((await readTenantOverrides(redis, prefix, "alpha")).overrides).toEqual({ tenancy_enabled: true });
    expect(await redis.exists(`${prefix}flag:ghost_flag`)).toBe(0);
  });

  it("a tenant's budget field and the tiers are written independently", async () => {
    await writeBudgets(redis, prefix, { tiers: { standard: { requests: 3, window: "1 m" } } });
    await writeTenantBudget(redis, prefix, "alpha", budget);
    await writeTenantBudget(redis, prefix, "beta", { requests: 9, window: "1 m" });
    await writeBudgets(redis, prefix, { tiers: { enterprise: { requests: 12, window: "1 m" } } });
    expect(await readBudgets(redis, prefix)).toEqual({
      tenants: { alpha: budget, beta: { requests: 9, window: "1 m" } },
      tiers: { enterprise: { requests: 12, window: "1 m" } },
    });
    await writeTenantBudget(redis, prefix, "beta", undefined);
    expect(await readTenantBudget(redis, prefix, "beta")).toBeUndefined();
    expect(await readTenantBudget(redis, prefix, "alpha")).toEqual(budget);
  });
});
