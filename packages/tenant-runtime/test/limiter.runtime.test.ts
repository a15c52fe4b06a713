import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { analyticsKey, ANALYTICS_TTL_MS, createTenantGuards, TenantBudgetExceededError, TenantBusyError } from "@bloom/tenant-runtime/limiter";
import { assertTenantBudget, guardRequest, perTenantLimiter, tenantGuards } from "../../../examples/app-runtime/limiter";
import { writeBudgets, writeTenantBudget } from "../../../infra/kv/budgetStore";
import { adminCommand, ensureAppKvAccess } from "../../../infra/kv/appAccess";
import { collectStatus } from "../../../infra/status/environmentStatus";
import { validatePlatformConfig } from "../../../infra/config/validate";
import { loadMigrations } from "../../../infra/migrations/migrationSource";
import { REPO_ROOT } from "../../../infra/config/stackFile";
import { requirePostgres } from "../../../test/postgres";
import { startTestEndpoint } from "../../../test/redis";
import { tenantDatabase, type TenantDatabase } from "../../../test/tenantFixtures";

/**
 * The playbook's limiter with the app's scoped token (issue 17, defect 9): the verbatim snippet, and the runtime's
 * pre-configured one, against the local Upstash-compatible endpoint whose ACL users Redis enforces.
 */
let endpoint: Awaited<ReturnType<typeof startTestEndpoint>>;
let access: Awaited<ReturnType<typeof ensureAppKvAccess>>;
let db: TenantDatabase;
const prefix = `rt-limiter-${Date.now().toString(36)}:`;
const env = { ...process.env };

beforeAll(async () => {
  await requirePostgres();
  endpoint = await startTestEndpoint();
  access = await ensureAppKvAccess(endpoint.server.url, endpoint.token, prefix, `bloom-app-rt-${Date.now().toString(36)}`);
  // What `up` publishes: the standard tier's budget for alpha, a smaller override for beta.
  await writeBudgets(endpoint.redis, prefix, { tenants: { alpha: { requests: 5, window: "1 m" }, beta: { requests: 2, window: "1 m" } }, tiers: {} });
  db = await tenantDatabase("rt-limiter");
  Object.assign(process.env, {
    BLOOM_KV_URL: endpoint.server.url, BLOOM_KV_READ_TOKEN: access.readToken, BLOOM_KV_LIMITER_TOKEN: access.limiterToken, BLOOM_KV_PREFIX: prefix,
    // What the verbatim snippet reads (Redis.fromEnv): the app's limiter token, the only one an instance should hold for counting.
    UPSTASH_REDIS_REST_URL: endpoint.server.url, UPSTASH_REDIS_REST_TOKEN: access.limiterToken,
  });
});
afterAll(async () => {
  process.env = env;
  await adminCommand(endpoint.server.url, endpoint.token, ["ACL", "DELUSER", access.readerUser, access.limiterUser]).catch(() => undefined);
  await endpoint?.server.close();
  await db?.drop();
});

describe("the playbook's limiter, verbatim, with the app's token", () => {
  it("fails on every call: its default prefix is outside the token's `<prefix>rl:*`", async () => {
    const verbatim = await import("../../../examples/app-runtime/playbookLimiter");
    const err = await verbatim.assertTenantBudget("alpha", "u1").catch((e: Error) => e);
    expect(String(err)).toMatch(/NOPERM this user has no permissions to access one of the keys/);
  });

  it("with the stack's prefix it counts, but at 100/min whatever the tenant's budget, and its analytics never expire", async () => {
    const { Ratelimit } = await import("@upstash/ratelimit");
    const { Redis } = await import("@upstash/redis");
    const withPrefix = new Ratelimit({ redis: Redis.fromEnv(), limiter: Ratelimit.slidingWindow(100, "1 m"), analytics: true, prefix: `${prefix}rl:playbook` });
    const r = await withPrefix.limit("alpha:u1");
    await r.pending;
    expect([r.success, r.limit]).toEqual([true, 100]); // alpha's budget is 5
    const analytics = (await endpoint.redis.keys(`${prefix}rl:playbook:events:*`))[0]!;
    expect(await endpoint.redis.pttl(analytics)).toBe(-1); // no TTL: identifiers kept for ever
  });
});

describe("the runtime's limiter: the same call, pre-configured", () => {
  it("limits at each tenant's own budget, per identifier, and records analytics that expire", async () => {
    const limiter = perTenantLimiter();
    for (let i = 0; i < 5; i++) await assertTenantBudget(limiter, "alpha", "u1");
    await expect(assertTenantBudget(limiter, "alpha", "u1")).rejects.toThrow(/Rate limit exceeded, retry after \d+/);
    await assertTenantBudget(limiter, "alpha", "u2"); // another identifier of the same tenant has its own window
    for (let i = 0; i < 2; i++) await assertTenantBudget(limiter, "beta", "u1");
    await expect(assertTenantBudget(limiter, "beta", "u1")).rejects.toThrow(/Rate limit exceeded/);

    const r = await limiter.limit("alpha:u3");
    await r.pending;
    const key = analyticsKey(prefix, "alpha", Date.now());
    const ttl = Number(await endpoint.redis.pttl(key));
    expect(ttl).toBeGreaterThan(ANALYTICS_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(ANALYTICS_TTL_MS);
    const members = (await endpoint.redis.zrange(key, 0, -1, { withScores: true })) as unknown[];
    expect(members.some((m) => typeof m === "object" && (m as { identifier?: string }).identifier === "alpha:u1")).toBe(true);
  });

  it("`bloom status` counts the rejections from those analytics", async () => {
    const guards = tenantGuards();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await guardRequest(guards, "beta", "status-user"));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429, 429]);
    expect(answers[2]).toMatchObject({ retryAfterSeconds: expect.any(Number) });
    await guards.flushAnalytics(); // a refusal answers at once; its record goes with the next batch
    const config = validatePlatformConfig((k) => ({ environment: "local", database: { backend: "local" }, tenants: [
      { id: "alpha", name: "Alpha", tier: "standard", isolation: "pooled" },
      { id: "beta", name: "Beta", tier: "standard", isolation: "pooled" },
    ] } as Record<string, unknown>)[k]);
    const status = await collectStatus({ stack: "local", config, migratorUrl: db.url, store: { redis: endpoint.redis, prefix }, backend: db.backend, projectId: db.projectId, migrations: loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")) });
    // alpha: 1 rejected above; beta: 1 in the first test + 2 here.
    expect(status.tenants.map((t) => [t.id, t.rejectedThisHour])).toEqual([["alpha", 1], ["beta", 3]]);
  });

  it("caps the tenant as a whole: many identifiers together stop at tenantRequests, its neighbour unaffected, and status counts them", async () => {
    // A bucket as big as the total: all 10 at once (a smaller one paces them: the next test).
    await writeTenantBudget(endpoint.redis, prefix, "gamma", { requests: 3, window: "1 m", tenantRequests: 10, tenantBurst: 10 });
    const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix });
    const outcomes: string[] = [];
    for (let i = 0; i < 25; i++) {
      // 25 identifiers, one request each: every identifier is far within its own 3.
      outcomes.push(await guards.assertTenantBudget("gamma", `flood-${i}`).then(() => "ok", (err: unknown) => (err instanceof TenantBudgetExceededError ? err.scope : String(err))));
    }
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(10);
    expect(outcomes.slice(10)).toEqual(Array(15).fill("tenant"));
    await expect(guards.assertTenantBudget("gamma", "flood-0")).rejects.toThrow(/tenant gamma as a whole \(10 per 1 m, every identifier together\)/);
    // A neighbour's budget is its own: alpha's fresh identifier still passes.
    await expect(guards.assertTenantBudget("alpha", "after-gamma")).resolves.toMatchObject({ remaining: expect.any(Number) });
    await guards.flushAnalytics();
    const config = validatePlatformConfig((k) => ({ environment: "local", database: { backend: "local" }, tenants: [{ id: "gamma", name: "Gamma", tier: "standard", isolation: "pooled" }] } as Record<string, unknown>)[k]);
    const status = await collectStatus({ stack: "local", config, migratorUrl: db.url, store: { redis: endpoint.redis, prefix }, backend: db.backend, projectId: db.projectId, migrations: loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")) });
    expect(status.tenants.map((t) => [t.id, t.rejectedThisHour])).toEqual([["gamma", 16]]);
  });

  it("paces the tenant as a whole: a flood from many identifiers gets tenantBurst at once, then tenantRequests per window evenly, from its first window on", async () => {
    // Date faked (Ratelimit passes Date.now() to the store's script): 100 per 10 s is one every 100 ms; a bucket of 5.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const W = 10_000;
      const t0 = Math.ceil(Date.now() / W) * W + W; // a window start
      await writeTenantBudget(endpoint.redis, prefix, "zeta", { requests: 1_000, window: "10 s", tenantRequests: 100, tenantBurst: 5 });
      const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, cacheTtlMs: 600_000 });
      let n = 0;
      let lastRefusal: TenantBudgetExceededError | undefined;
      const ask = () => guards.assertTenantBudget("zeta", `z-${n++}`).then(() => "ok", (err: unknown) => (err instanceof TenantBudgetExceededError ? ((lastRefusal = err), err.scope) : String(err)));
      vi.setSystemTime(t0);
      const burst: string[] = [];
      for (let i = 0; i < 8; i++) burst.push(await ask());
      expect(burst).toEqual([...Array(5).fill("ok"), ...Array(3).fill("tenant")]);
      expect(lastRefusal!.retryAfterMs).toBeLessThanOrEqual(100); // the next token, not the window's end
      // A steady flood from fresh identifiers, one every 25 ms (4 × the budget's pace), over three windows.
      const admitted = [0, 0, 0];
      for (let t = 25; t < 3 * W; t += 25) {
        vi.setSystemTime(t0 + t);
        if ((await ask()) === "ok") admitted[Math.floor(t / W)]!++;
      }
      // The first window: the bucket's 5, then a token every 100 ms (99 of them after t0); then 100 a window.
      expect([5 + admitted[0]!, admitted[1], admitted[2]]).toEqual([104, 100, 100]);

      // A budget that does not divide its window (253 per 20 s) and the default bucket, here a 25th (11): two tokens every
      // 159 ms, never more than the budget, at most 1 % less — not the whole window's refill at once.
      await writeTenantBudget(endpoint.redis, prefix, "theta", { requests: 10, window: "20 s", tenantRequests: 253 });
      const askTheta = () => guards.assertTenantBudget("theta", `t-${n++}`).then(() => "ok", (err: unknown) => (err instanceof TenantBudgetExceededError ? err.scope : String(err)));
      const t1 = t0 + 4 * W; // a 20 s window start
      vi.setSystemTime(t1);
      const thetaBurst: string[] = [];
      for (let i = 0; i < 14; i++) thetaBurst.push(await askTheta());
      expect(thetaBurst).toEqual([...Array(11).fill("ok"), ...Array(3).fill("tenant")]);
      let thetaAdmitted = 0;
      for (let t = 25; t < 2 * W + 2 * W; t += 25) {
        vi.setSystemTime(t1 + t);
        if ((await askTheta()) === "ok" && t >= 2 * W) thetaAdmitted++; // the second 20 s window: steady state
      }
      expect(thetaAdmitted).toBeLessThanOrEqual(253);
      expect(thetaAdmitted).toBeGreaterThanOrEqual(Math.floor(253 * 0.99));
    } finally {
      vi.useRealTimers();
    }
  });

  it("a refused identifier is asked again within the window: the sliding window's decaying weight lets requests through", async () => {
    // Date faked (Ratelimit passes Date.now() to the store's script): window W = 10 s, one identifier's budget 10.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const W = 10_000;
      const t0 = Math.ceil(Date.now() / W) * W + W; // a window start
      await writeTenantBudget(endpoint.redis, prefix, "eta", { requests: 10, window: "10 s", tenantRequests: 1_000 });
      const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, cacheTtlMs: 60_000 });
      const ask = () => guards.assertTenantBudget("eta", "one-user").then(() => "ok", (err: unknown) => (err instanceof TenantBudgetExceededError ? err.scope : String(err)));
      vi.setSystemTime(t0 + 100);
      const first: string[] = [];
      for (let i = 0; i < 11; i++) first.push(await ask());
      expect(first).toEqual([...Array(10).fill("ok"), "identifier"]);
      vi.setSystemTime(t0 + W + W / 10); // previous window weighs 0.9: room for one
      expect([await ask(), await ask()]).toEqual(["ok", "identifier"]);
      vi.setSystemTime(t0 + W + W / 2); // it weighs 0.5 now: 10·0.5 + 1 = 6 < 10
      expect(await ask()).toBe("ok");
    } finally {
      vi.useRealTimers();
    }
  });

  it("a tenant's slots on an instance: past maxInFlightPerTenant it is refused at once, its neighbour is not", async () => {
    const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, maxInFlightPerTenant: 2 });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const held = [guards.withTenantSlot("gamma", () => gate), guards.withTenantSlot("gamma", () => gate)];
    await expect(guards.withTenantSlot("gamma", async () => "third")).rejects.toBeInstanceOf(TenantBusyError);
    await expect(guards.withTenantSlot("alpha", async () => "alpha's own")).resolves.toBe("alpha's own");
    open();
    await Promise.all(held);
    await expect(guards.withTenantSlot("gamma", async () => "after")).resolves.toBe("after"); // slots given back
    await expect(guards.withTenantSlot("gamma", async () => { throw new Error("work failed"); })).rejects.toThrow("work failed");
    await expect(Promise.all([guards.withTenantSlot("gamma", async () => 1), guards.withTenantSlot("gamma", async () => 2)])).resolves.toEqual([1, 2]); // a failure gives its slot back too
  });

  it("a tenant's queue: past its slots its requests wait their turn in order, past maxQueuedPerTenant refused, its neighbour runs meanwhile", async () => {
    const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, maxInFlightPerTenant: 1, maxQueuedPerTenant: 2 });
    const started: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const first = guards.withTenantSlot("gamma", async () => (started.push("g1"), gate));
    const queued = ["g2", "g3"].map((name) => guards.withTenantSlot("gamma", async () => void started.push(name)));
    const refused = await guards.withTenantSlot("gamma", async () => void started.push("g4")).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TenantBusyError);
    expect((refused as TenantBusyError).message).toMatch(/gamma already has 1 requests in progress and 2 waiting/);
    await guards.withTenantSlot("alpha", async () => void started.push("alpha")); // not behind gamma's queue
    expect(started).toEqual(["g1", "alpha"]);
    open();
    await Promise.all([first, ...queued]);
    expect(started).toEqual(["g1", "alpha", "g2", "g3"]);
    await expect(guards.withTenantSlot("gamma", async () => "after")).resolves.toBe("after"); // the lane emptied
  });

  it("gathers the analytics of a second into one write: 30 refusals recorded as one count of 30, with the bucket's TTL", async () => {
    await writeTenantBudget(endpoint.redis, prefix, "delta", { requests: 1, window: "1 m" });
    const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, analyticsFlushMs: 60_000 });
    await guards.assertTenantBudget("delta", "batch-user");
    const refusals = await Promise.all(Array.from({ length: 30 }, () => guards.assertTenantBudget("delta", "batch-user").then(() => "ok", (e: unknown) => (e as Error).name)));
    expect(refusals).toEqual(Array(30).fill("TenantBudgetExceededError"));
    const key = analyticsKey(prefix, "delta", Date.now());
    expect(await endpoint.redis.exists(key)).toBe(0); // nothing sent yet: the batch waits for its minute, or a flush
    await guards.flushAnalytics();
    const members = (await endpoint.redis.zrange(key, 0, -1, { withScores: true })) as unknown[];
    const score = (success: boolean) => Number(members[members.findIndex((m) => typeof m === "object" && (m as { identifier?: string; success?: boolean }).identifier === "delta:batch-user" && (m as { success?: boolean }).success === success) + 1]);
    expect([score(true), score(false)]).toEqual([1, 30]);
    expect(Number(await endpoint.redis.pttl(key))).toBeGreaterThan(ANALYTICS_TTL_MS - 60_000);
  });
});
