import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCommand, ensureAppKvAccess, type AppKvAccess } from "./appAccess";
import { setKillSwitch, writeFlag } from "./flagStore";
import { writeBudgets } from "./budgetStore";
import { createTenantGuards, LimiterScriptsMissingError } from "@bloom/tenant-runtime/limiter";
import { startTestEndpoint } from "../../test/redis";
import { makeAclToken } from "./aclTokens";
import { missingLimiterScripts } from "./limiterScripts";

/**
 * Defect 9 (store): the app's token was the platform's, so an app bug or a compromised instance could lift its own
 * rate limit, flip a flag or release the kill switch. Now the app holds two ACL-scoped tokens; Redis itself
 * enforces them behind the Upstash-compatible endpoint.
 */
describe("defect 9: a scoped store credential for the app", () => {
  let endpoint: Awaited<ReturnType<typeof startTestEndpoint>>;
  let access: AppKvAccess;
  const stamp = Date.now().toString(36);
  const prefix = `bloom:acl-${stamp}:`;
  const otherPrefix = `bloom:acl-other-${stamp}:`;
  const client = (token: string) => new Redis({ url: endpoint.server.url, token, enableTelemetry: false, automaticDeserialization: false });
  const refused = async (work: Promise<unknown>) => expect(work).rejects.toThrow(/NOPERM|No permissions|noperm/i);

  beforeAll(async () => {
    endpoint = await startTestEndpoint();
    await writeFlag(endpoint.redis, prefix, { name: "tenancy_enabled", default: false, tenants: { pilot: true } }, "test", "pulumi up");
    await writeBudgets(endpoint.redis, prefix, { tenants: { pilot: { requests: 3, window: "1 m" } }, tiers: {} });
    await endpoint.redis.set(`${otherPrefix}flag:secret`, "x");
    access = await ensureAppKvAccess(endpoint.server.url, endpoint.token, prefix, `bloom-app-test-${stamp}`);
  });
  afterAll(async () => {
    await adminCommand(endpoint.server.url, endpoint.token, ["ACL", "DELUSER", access.readerUser, access.limiterUser]).catch(() => undefined);
    await endpoint?.server.close();
  });

  it("the app's guards work with the scoped tokens: flags and budgets read, the limiter counts", async () => {
    const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, cacheTtlMs: 0 });
    expect(await guards.isEnabled("tenancy_enabled", "pilot")).toBe(true);
    for (let i = 0; i < 3; i++) await guards.assertTenantBudget("pilot", "u1");
    await expect(guards.assertTenantBudget("pilot", "u1")).rejects.toThrow(/rate limit exceeded/);
  });

  it("the read token cannot write a flag, the kill switch, a budget, or read another stack's keys", async () => {
    const reader = client(access.readToken);
    await refused(reader.hset(`${prefix}flag:tenancy_enabled`, { default: "true" }));
    await refused(reader.set(`${prefix}flag:tenancy_enabled:kill`, "1"));
    await refused(reader.del(`${prefix}flag:tenancy_enabled:kill`));
    await refused(reader.hset(`${prefix}budgets`, { pilot: JSON.stringify({ requests: 1_000_000, window: "1 m" }) }));
    await refused(reader.eval("return redis.call('SET', KEYS[1], '1')", [`${prefix}flag:tenancy_enabled:kill`], []));
    await refused(reader.get(`${otherPrefix}flag:secret`));
    expect(await endpoint.redis.hget(`${prefix}flag:tenancy_enabled`, "default")).toBe(false);
  });

  it("the limiter token reaches only the rate-limit keys, scripts included", async () => {
    const limiter = client(access.limiterToken);
    await refused(limiter.eval("return redis.call('SET', KEYS[1], '1')", [`${prefix}flag:tenancy_enabled:kill`], []));
    await refused(limiter.eval("return redis.call('HSET', KEYS[1], 'pilot', 'x')", [`${prefix}budgets`], []));
    await refused(limiter.eval("return redis.call('GET', KEYS[1])", [`${otherPrefix}flag:secret`], []));
    await refused(limiter.hget(`${prefix}flag:tenancy_enabled`, "default"));
    await refused(limiter.set(`${prefix}flag:tenancy_enabled:kill`, "1"));
    await refused(limiter.del(`${prefix}rl:probe`)); // only the limiter's commands, even on its own keys
  });

  it("neither token can manage users or run admin commands; re-applying keeps the tokens, rotating replaces them", async () => {
    for (const token of [access.readToken, access.limiterToken]) {
      await expect(adminCommand(endpoint.server.url, token, ["ACL", "SETUSER", access.readerUser, "allkeys", "+@all"])).rejects.toThrow(/NOPERM|permission/i);
      await expect(adminCommand(endpoint.server.url, token, ["FLUSHALL"])).rejects.toThrow(/NOPERM|permission/i);
    }
    const again = await ensureAppKvAccess(endpoint.server.url, endpoint.token, prefix, access.readerUser.replace(/-reader$/, ""), access);
    expect(again).toEqual(access);
    expect(await client(access.readToken).exists(`${prefix}budgets`)).toBe(1);
    await setKillSwitch(endpoint.redis, prefix, "tenancy_enabled", false, "test"); // the admin still can
    const rotated = await ensureAppKvAccess(endpoint.server.url, endpoint.token, prefix, access.readerUser.replace(/-reader$/, ""), access, true);
    expect(rotated.readToken).not.toBe(access.readToken);
    expect(await client(rotated.readToken).exists(`${prefix}budgets`)).toBe(1);
    access = rotated;
  });

  it("a token the endpoint does not know is refused with 401", async () => {
    await expect(adminCommand(endpoint.server.url, "bloomacl_bm9ib2R5AHdyb25n", ["PING"])).rejects.toThrow(/401/);
  });

  it("attack 7: the limiter token runs no Lua of its own (EVAL refused, even on its own keys); the library's scripts still run", async () => {
    const limiter = client(access.limiterToken);
    await refused(limiter.eval("return redis.call('INCRBY', KEYS[1], 1)", [`${prefix}rl:probe`], []));
    await refused(limiter.eval("local i = 0 while i < 1e7 do i = i + 1 end return i", [], []));
    await refused(limiter.scriptLoad("return 1"));
    const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, cacheTtlMs: 0 });
    await guards.assertTenantBudget("pilot", "script-probe");
  });

  it("attack 6: a token forged for Redis's default user, with any password, gets nothing on the local endpoint", async () => {
    const forged = makeAclToken("default", "anything");
    await expect(adminCommand(endpoint.server.url, forged, ["ACL", "WHOAMI"])).rejects.toThrow(/401|WRONGPASS|disabled|NOAUTH/i);
    await expect(adminCommand(endpoint.server.url, forged, ["SET", `${prefix}flag:tenancy_enabled:kill`, "1"])).rejects.toThrow(/401|WRONGPASS|disabled|NOAUTH/i);
    expect(await endpoint.redis.get(`${prefix}flag:tenancy_enabled:kill`)).toBeNull();
  });

  it("the library's scripts survive an endpoint restart; a store that forgot them is reported, fails clearly, and is reloaded", async () => {
    const restarted = await startTestEndpoint(); // a new endpoint process state over the same Redis
    try {
      const viaRestarted = createTenantGuards({ url: restarted.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, cacheTtlMs: 0 });
      await viaRestarted.assertTenantBudget("pilot", "restart-probe");
      await new Promise((r) => setTimeout(r, 300)); // the library records analytics after answering
    } finally {
      await restarted.server.close();
    }
    expect(await missingLimiterScripts(endpoint.server.url, endpoint.token)).toEqual([]);
    await adminCommand(endpoint.server.url, endpoint.token, ["SCRIPT", "FLUSH"]); // what a store restart does
    expect(await missingLimiterScripts(endpoint.server.url, endpoint.token)).toHaveLength(4); // limit and remaining, for the sliding window and the token bucket
    const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, cacheTtlMs: 0 });
    await expect(guards.assertTenantBudget("pilot", "flushed-probe")).rejects.toThrow(LimiterScriptsMissingError);
    await ensureAppKvAccess(endpoint.server.url, endpoint.token, prefix, access.readerUser.replace(/-reader$/, ""), access); // what `up` does on that drift
    expect(await missingLimiterScripts(endpoint.server.url, endpoint.token)).toEqual([]);
    await guards.assertTenantBudget("pilot", "flushed-probe");
  });
});

