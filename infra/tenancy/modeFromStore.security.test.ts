import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyTenancyModeFromStore } from "./modeFromStore";
import { getTenancyMode, setTenancyMode } from "./rlsModes";
import { setKillSwitch, writeFlag } from "../kv/flagStore";
import { requirePostgres } from "../../test/postgres";
import { startTestEndpoint } from "../../test/redis";
import { asApp, seedTenants, tenantDatabase, type TenantDatabase } from "../../test/tenantFixtures";

/**
 * Defect 8: two writers of the database mode. `up` (TenancyMode) wrote the config's value, the runbook the store's,
 * so an `up` after `flags kill tenancy_enabled` put enforce back. Now both call applyTenancyModeFromStore.
 */
describe("defect 8: one writer of the database mode", () => {
  let db: TenantDatabase;
  let endpoint: Awaited<ReturnType<typeof startTestEndpoint>>;
  const prefix = `bloom:mode-test-${Date.now().toString(36)}:`;

  beforeAll(async () => {
    await requirePostgres();
    db = await tenantDatabase("mode");
    endpoint = await startTestEndpoint();
    await seedTenants(db.url);
  });
  afterAll(async () => {
    await endpoint?.server.close();
    await db?.drop();
  });

  it("a kill returns the database to shadow at once, and the path `up` takes afterwards keeps it there", async () => {
    const store = { restUrl: endpoint.server.url, restToken: endpoint.token, prefix };
    await writeFlag(endpoint.redis, prefix, { name: "tenancy_enabled", default: true, tenants: {} }, "test", "pulumi up");
    expect((await applyTenancyModeFromStore(store, [db.url])).mode).toBe("enforce"); // up: config (via the store) says on
    expect((await asApp(db.appUrl, null, `SELECT clinic_id FROM "patient"`)).rows).toEqual([]);

    await setKillSwitch(endpoint.redis, prefix, "tenancy_enabled", true, "on-call");
    expect(await applyTenancyModeFromStore(store, [db.url])).toEqual({ mode: "shadow", previous: ["enforce"] }); // bloom flags kill
    expect((await asApp(db.appUrl, null, `SELECT clinic_id FROM "patient"`)).rows).toHaveLength(9);

    // The next `up` writes the declared value into the store again and applies the mode: the kill still wins.
    await writeFlag(endpoint.redis, prefix, { name: "tenancy_enabled", default: true, tenants: {} }, "test", "pulumi up");
    expect((await applyTenancyModeFromStore(store, [db.url])).mode).toBe("shadow");
    expect(await getTenancyMode(db.url)).toBe("shadow");

    await setKillSwitch(endpoint.redis, prefix, "tenancy_enabled", false, "on-call");
    expect((await applyTenancyModeFromStore(store, [db.url])).mode).toBe("enforce");
  });

  it("a database set by hand is brought back to the store's value by the next apply", async () => {
    const store = { restUrl: endpoint.server.url, restToken: endpoint.token, prefix };
    await setTenancyMode(db.url, "shadow");
    expect((await applyTenancyModeFromStore(store, [db.url])).previous).toEqual(["shadow"]);
    expect(await getTenancyMode(db.url)).toBe("enforce");
  });
});
