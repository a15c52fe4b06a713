import { Ratelimit, type Duration } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { UnknownTenantError } from "./routing.js";
import { ANALYTICS_TTL_MS, budgetsKey, budgetWindowMs, defaultTenantBurst, flagKeys, resolveFlag, tenantLimiterPrefix, tenantTotalPrefix, type Budget } from "./storeLayout.js";

export * from "./storeLayout.js";

/**
 * The tenant's rate limit and feature flags, read from the store the platform provisions (Upstash, or Redis behind
 * the local Upstash-compatible endpoint), with the app's two scoped tokens — never the admin token.
 *
 * The limiter is the playbook's (`Ratelimit.slidingWindow`, `analytics: true`, `limit(\`${tenantId}:${identifier}\`)`),
 * pre-configured: the stack's key prefix (the limiter token reaches `<prefix>rl:*` only), the tenant's own budget
 * (its override in `bloom:limits.tenants`, else its tier's) instead of one fixed `100 per 1 m`, a tenant-wide cap
 * beside the per-identifier one (`tenantRequests`: many identifiers together cannot exceed it, and arrive paced —
 * a token bucket of `tenantBurst`), and analytics whose keys expire (the library's never do, and they hold
 * identifiers).
 */
export interface TenantStoreOptions {
  /** The store's REST URL (stack output kvRestUrl). */
  url: string;
  /** Read-only token for flags and budgets (stack output kvAppReadToken). */
  readToken?: string;
  /** Token for the rate-limit keys only (stack output kvAppLimiterToken). */
  limiterToken?: string;
  /** One token for both: the platform's admin token (runbook, tests). The app uses the two scoped ones. */
  token?: string;
  /** The stack's key prefix (stack output kvKeyPrefix). */
  prefix: string;
  /** How long a flag value or a budget is reused before it is read again (default 5 s). */
  cacheTtlMs?: number;
  /** How long the limiter's analytics are gathered before one write sends them (default 1 s; `flushAnalytics()`). */
  analyticsFlushMs?: number;
  now?: () => number;
}

/** Which cap a request went over: its identifier's (`requests`) or the whole tenant's (`tenantRequests`). */
export type BudgetScope = "identifier" | "tenant";

export class TenantBudgetExceededError extends Error {
  constructor(readonly tenantId: string, readonly identifier: string, readonly retryAfterMs: number, readonly budget: Budget, readonly scope: BudgetScope = "identifier") {
    super(scope === "tenant"
      ? `rate limit exceeded for tenant ${tenantId} as a whole (${budget.tenantRequests} per ${budget.window}, every identifier together): retry after ${Math.ceil(retryAfterMs / 1000)} s`
      : `rate limit exceeded for tenant ${tenantId} (${budget.requests} per ${budget.window}): retry after ${Math.ceil(retryAfterMs / 1000)} s`);
    this.name = "TenantBudgetExceededError";
  }
}

export interface LimitResult {
  success: boolean;
  /** On a refusal, the cap it went over. */
  scope?: BudgetScope;
  limit: number;
  remaining: number;
  /** When the window resets, ms since the epoch. */
  reset: number;
  /** The analytics write, still in flight (await it, or hand it to waitUntil on serverless). */
  pending: Promise<unknown>;
}

interface Cached<T> {
  value: T;
  until: number;
}

/** Reads the store's options from the environment the app is deployed with (docs/app-runtime.md). */
export function storeOptionsFromEnv(env: Record<string, string | undefined> = process.env): TenantStoreOptions {
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw new Error(`${name} is not set: copy it from the stack output (docs/app-runtime.md, "The app's store credentials")`);
    return v;
  };
  return { url: need("BLOOM_KV_URL"), readToken: need("BLOOM_KV_READ_TOKEN"), limiterToken: need("BLOOM_KV_LIMITER_TOKEN"), prefix: need("BLOOM_KV_PREFIX") };
}

/**
 * A Redis client whose ZINCRBY (the only write of @upstash/ratelimit's analytics: one per `limit()` call) is batched:
 * the increments of `flushMs` go to the store as one pipeline, one ZINCRBY per (bucket, member) with the summed count
 * and the bucket's TTL. Under a flood that is one round trip a second instead of one per request (each refusal
 * would otherwise cost the app a REST call). `flush()` sends what is pending now; everything else passes through.
 */
function withBatchedAnalytics(redis: Redis, ttlMs: number, flushMs: number): { redis: Redis; flush: () => Promise<unknown> } {
  type Batch = { counts: Map<string, Map<string, { member: unknown; count: number }>>; timer: ReturnType<typeof setTimeout>; written: Promise<unknown>; send: () => void };
  let open: Batch | undefined;
  let lastWrite: Promise<unknown> = Promise.resolve();
  const flush = (): Promise<unknown> => {
    const due = open;
    if (!due) return lastWrite;
    open = undefined;
    clearTimeout(due.timer);
    due.send();
    return (lastWrite = due.written);
  };
  const startBatch = (): Batch => {
    let send!: () => void;
    const counts: Batch["counts"] = new Map();
    const written = new Promise<void>((r) => (send = r)).then(() => {
      const p = redis.pipeline();
      for (const [key, members] of counts) {
        for (const { member, count } of members.values()) p.zincrby(key, count, member);
        p.pexpire(key, ttlMs);
      }
      return p.exec();
    });
    const timer = setTimeout(flush, flushMs);
    timer.unref?.(); // a pending batch does not keep a process alive; flush() before exiting to keep it
    return { counts, timer, written, send };
  };
  const batched = new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop === "zincrby") {
        return (key: string, increment: number, member: unknown) => {
          const batch = (open ??= startBatch());
          const members = batch.counts.get(key) ?? new Map<string, { member: unknown; count: number }>();
          batch.counts.set(key, members);
          const id = typeof member === "string" ? member : JSON.stringify(member);
          const entry = members.get(id) ?? { member, count: 0 };
          entry.count += increment;
          members.set(id, entry);
          return batch.written;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { redis: batched, flush };
}

/**
 * The library's in-memory block cache (`ephemeralCache`), holding a refusal briefly: the library keeps a refused key
 * blocked until the end of the current window, which a sliding window does not mean (the previous window's weight
 * decays within it) — under a steady flood that served 113, 4, 111 in three windows of a 113 budget
 * (bench:tenant-load). Held for a fiftieth of the window instead, a flood's refusals mostly cost no round trip,
 * and the capacity freed meanwhile is still there after it.
 */
class BriefBlocks extends Map<string, number> {
  constructor(private readonly holdMs: number) {
    super();
  }
  override set(key: string, reset: number): this {
    // The library forgets an entry only when that key is asked again: drop the lapsed ones as refusals come in, so
    // a flood of one-off identifiers does not grow the map for good.
    if (this.size >= 1024) for (const [k, until] of this) if (until < Date.now()) this.delete(k);
    return super.set(key, Math.min(reset, Date.now() + this.holdMs));
  }
  blockedNow(): boolean {
    const now = Date.now();
    for (const until of this.values()) if (until >= now) return true;
    return false;
  }
}

function durationMs(window: string): number {
  const ms = budgetWindowMs(window);
  if (ms === undefined) throw new Error(`budget window "${window}" is not a duration such as "1 m"`);
  return ms;
}

/**
 * The tenant-wide bucket's refill: `tenantRequests` per window in small equal steps — `tokens` every `everyMs`, a step
 * of at least 100 ms (200 per 20 s: one every 100 ms; 253 per 20 s: two every 159 ms). The step is rounded up, so a
 * window never refills more than its budget (at most 1 % less), and a flood's admissions are spread over the window.
 */
export function evenRefill(tenantRequests: number, windowMs: number): { tokens: number; everyMs: number } {
  const tokens = Math.max(1, Math.ceil((100 * tenantRequests) / windowMs));
  return { tokens, everyMs: Math.ceil((tokens * windowMs) / tenantRequests) };
}

/**
 * The tenant-wide cap as a token bucket (the library's `tokenBucket`): a sliding window starts full and lets a whole
 * window's budget through in its first second — a flood's share of the instance all at once, while the neighbours
 * wait (bench:tenant-load: the victim's p95 in the flood's first window 4 × its own). The bucket holds `tenantBurst`
 * and refills evenly, so a flood is admitted at the budget's pace from its first second on.
 */
function tenantWideAlgorithm(budget: Budget) {
  const total = budget.tenantRequests!;
  const refill = evenRefill(total, durationMs(budget.window));
  return Ratelimit.tokenBucket(refill.tokens, `${refill.everyMs} ms`, Math.max(refill.tokens, budget.tenantBurst ?? defaultTenantBurst({ requests: budget.requests, tenantRequests: total })));
}

/** The two clients the app's tokens give: read flags and budgets, count requests. */
function storeClients(opts: TenantStoreOptions, who: string): StoreClients {
  const readToken = opts.readToken ?? opts.token;
  const limiterToken = opts.limiterToken ?? opts.token;
  if (!readToken || !limiterToken) throw new Error(`${who}: set readToken and limiterToken (stack outputs kvAppReadToken, kvAppLimiterToken)`);
  const counters = withBatchedAnalytics(new Redis({ url: opts.url, token: limiterToken, enableTelemetry: false }), ANALYTICS_TTL_MS, opts.analyticsFlushMs ?? 1_000);
  return { reader: new Redis({ url: opts.url, token: readToken, enableTelemetry: false }), counters: counters.redis, flushAnalytics: counters.flush };
}

interface StoreClients {
  reader: Redis;
  counters: Redis;
  flushAnalytics: () => Promise<unknown>;
}

export function createTenantRatelimit(opts: TenantStoreOptions) {
  return ratelimitOver(storeClients(opts, "createTenantRatelimit"), opts);
}

function ratelimitOver({ reader, counters, flushAnalytics }: StoreClients, opts: TenantStoreOptions) {
  const ttl = opts.cacheTtlMs ?? 5_000;
  const now = opts.now ?? Date.now;
  const budgets = new Map<string, Cached<Budget>>();
  // One limiter per tenant and budget: a budget changed by `up` takes effect within the cache TTL.
  const limiters = new Map<string, { limiter: Ratelimit; blocks: BriefBlocks }>();

  async function budgetOf(tenantId: string): Promise<Budget> {
    const hit = budgets.get(tenantId);
    if (hit && hit.until > now()) return hit.value;
    const raw = await reader.hget<Budget | string>(budgetsKey(opts.prefix), tenantId);
    if (raw === null || raw === undefined) throw new UnknownTenantError(tenantId, "the store's budgets");
    const value = typeof raw === "string" ? (JSON.parse(raw) as Budget) : raw;
    budgets.set(tenantId, { value, until: now() + ttl });
    return value;
  }

  const limiterKey = (scope: BudgetScope, tenantId: string, budget: Budget) =>
    `${scope}\0${tenantId}\0${scope === "tenant" ? `${budget.tenantRequests}\0${budget.tenantBurst}` : budget.requests}\0${budget.window}`;

  function limiterFor(tenantId: string, budget: Budget, scope: BudgetScope): Ratelimit {
    const key = limiterKey(scope, tenantId, budget);
    let limiter = limiters.get(key)?.limiter;
    if (!limiter) {
      const blocks = new BriefBlocks(durationMs(budget.window) / 50);
      limiter = new Ratelimit({
        redis: counters,
        limiter: scope === "tenant" ? tenantWideAlgorithm(budget) : Ratelimit.slidingWindow(budget.requests, budget.window as Duration),
        prefix: scope === "tenant" ? tenantTotalPrefix(opts.prefix, tenantId) : tenantLimiterPrefix(opts.prefix, tenantId),
        analytics: true,
        ephemeralCache: blocks,
      });
      limiters.set(key, { limiter, blocks });
    }
    return limiter;
  }

  /** The tenant-wide counter refused a moment ago: refuse again from memory, before its identifier is counted. */
  const tenantBlocked = (tenantId: string, budget: Budget) =>
    budget.tenantRequests !== undefined && limiters.get(limiterKey("tenant", tenantId, budget))?.blocks.blockedNow() === true;

  async function count(limiter: Ratelimit, key: string) {
    return limiter.limit(key).catch((err: unknown) => {
      // The limiter's token may run only the scripts the platform loaded (no EVAL): a store restart forgets them.
      if (/NOSCRIPT|NOPERM.*'eval'/i.test(String(err))) throw new LimiterScriptsMissingError(err);
      throw err;
    });
  }

  return {
    /**
     * The playbook's call: `limit(\`${tenantId}:${identifier}\`)` counts one request of that identifier against the
     * tenant's budget (the text before the first `:` names the tenant), then — if its identifier was within budget —
     * against the tenant-wide cap. UnknownTenantError for a tenant with no budget.
     */
    async limit(key: string): Promise<LimitResult> {
      const tenantId = key.slice(0, key.indexOf(":"));
      if (!tenantId) throw new Error(`limit("${key}"): the key must start with the tenant, as in \`\${tenantId}:\${identifier}\``);
      const budget = await budgetOf(tenantId);
      if (tenantBlocked(tenantId, budget)) {
        const all = await count(limiterFor(tenantId, budget, "tenant"), tenantId); // answered from memory, recorded in analytics
        if (!all.success) return { success: false, scope: "tenant", limit: all.limit, remaining: 0, reset: all.reset, pending: all.pending };
        // The block ran out meanwhile and the tenant-wide counter took this request: count its identifier only.
        const own = await count(limiterFor(tenantId, budget, "identifier"), key);
        return { success: own.success, scope: own.success ? undefined : "identifier", limit: own.limit, remaining: Math.min(own.remaining, all.remaining), reset: own.reset, pending: Promise.all([own.pending, all.pending]) };
      }
      const own = await count(limiterFor(tenantId, budget, "identifier"), key);
      if (!own.success || budget.tenantRequests === undefined) {
        return { success: own.success, scope: own.success ? undefined : "identifier", limit: own.limit, remaining: own.remaining, reset: own.reset, pending: own.pending };
      }
      const all = await count(limiterFor(tenantId, budget, "tenant"), tenantId);
      const pending = Promise.all([own.pending, all.pending]);
      if (!all.success) return { success: false, scope: "tenant", limit: all.limit, remaining: 0, reset: all.reset, pending };
      return { success: true, limit: own.limit, remaining: Math.min(own.remaining, all.remaining), reset: own.reset, pending };
    },
    budgetOf,
    /** Sends the analytics gathered so far (what `bloom status` counts); resolves when they are written. */
    flushAnalytics,
    clearCache: () => budgets.clear(),
  };
}

export type TenantRatelimit = ReturnType<typeof ratelimitOver>;

/** The store no longer holds the limiter's scripts (it restarted); the next `pulumi up` loads them again. */
export class LimiterScriptsMissingError extends Error {
  constructor(readonly cause: unknown) {
    super("the store no longer holds the rate limiter's scripts (it restarted?), and the app's limiter token may not load any: run `pulumi up` (it loads them), see docs/app-runtime.md");
    this.name = "LimiterScriptsMissingError";
  }
}

/**
 * The guards the Bloom app calls per request: `assertTenantBudget` (the playbook's function, throwing
 * TenantBudgetExceededError with `retryAfterMs`) and `isEnabled` (kill switch → tenant override → default).
 */
export interface TenantGuardOptions extends TenantStoreOptions {
  /**
   * A bulkhead: how many requests of one tenant this instance runs at once (`withTenantSlot`). The rest wait their
   * turn in the tenant's own queue, so a clinic's burst takes turns with its neighbours' requests instead of
   * filling the process ahead of them. Unset: no cap.
   */
  maxInFlightPerTenant?: number;
  /** How many of one tenant's requests may wait for a slot (default 0); past it, TenantBusyError at once. */
  maxQueuedPerTenant?: number;
}

/** The tenant already has `maxInFlightPerTenant` requests in progress and its queue is full on this instance. */
export class TenantBusyError extends Error {
  readonly retryAfterMs = 1_000;
  constructor(readonly tenantId: string, readonly inFlight: number, readonly queued: number) {
    super(`tenant ${tenantId} already has ${inFlight} requests in progress and ${queued} waiting on this instance: retry shortly`);
    this.name = "TenantBusyError";
  }
}

/** One tenant's requests on this instance: how many run, and who waits for a slot (first come, first served). */
interface TenantLane {
  running: number;
  waiting: (() => void)[];
}

export function createTenantGuards(opts: TenantGuardOptions) {
  const clients = storeClients(opts, "createTenantGuards");
  const lanes = new Map<string, TenantLane>();
  const limiter = ratelimitOver(clients, opts);
  const reader = clients.reader;
  const ttl = opts.cacheTtlMs ?? 5_000;
  const now = opts.now ?? Date.now;
  const flags = new Map<string, Cached<boolean>>();

  return {
    limiter,
    /**
     * Counts one request of `identifier` (a user, an API key) against the tenant's budgets; throws when over either.
     * A refusal answers without waiting for its analytics (`flushAnalytics()` sends them).
     */
    async assertTenantBudget(tenantId: string, identifier: string): Promise<{ remaining: number; reset: number; pending: Promise<unknown> }> {
      const { success, scope, remaining, reset, pending } = await limiter.limit(`${tenantId}:${identifier}`);
      if (!success) throw new TenantBudgetExceededError(tenantId, identifier, Math.max(0, reset - now()), await limiter.budgetOf(tenantId), scope);
      return { remaining, reset, pending };
    },

    /** Sends the limiter's analytics gathered so far (on serverless, hand it to waitUntil); resolves once written. */
    flushAnalytics: () => limiter.flushAnalytics(),

    /**
     * Runs `work` in one of the tenant's `maxInFlightPerTenant` slots on this instance, after the tenant's earlier
     * requests (up to `maxQueuedPerTenant` wait; past that TenantBusyError, before any round trip). One clinic's
     * flood then holds at most its slots' worth of this process, whatever its rate. Without the option it just runs
     * `work`.
     */
    async withTenantSlot<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
      const cap = opts.maxInFlightPerTenant;
      if (cap === undefined) return work();
      let lane = lanes.get(tenantId);
      if (!lane) lanes.set(tenantId, (lane = { running: 0, waiting: [] }));
      if (lane.running < cap) lane.running++;
      else if (lane.waiting.length < (opts.maxQueuedPerTenant ?? 0)) await new Promise<void>((resolve) => lane.waiting.push(resolve)); // the slot is handed over, still counted
      else throw new TenantBusyError(tenantId, lane.running, lane.waiting.length);
      try {
        return await work();
      } finally {
        const next = lane.waiting.shift();
        if (next) next();
        else if (--lane.running === 0) lanes.delete(tenantId);
      }
    },

    /** The flag for this tenant: kill switch, then the tenant's override, then the default; cached briefly. */
    async isEnabled(flag: string, tenantId?: string): Promise<boolean> {
      const cacheKey = `${flag}\0${tenantId ?? ""}`;
      const hit = flags.get(cacheKey);
      if (hit && hit.until > now()) return hit.value;
      const k = flagKeys(opts.prefix, flag);
      const p = reader.pipeline();
      p.hmget(k.flag, "default", ...(tenantId ? [`tenant:${tenantId}`] : []));
      p.exists(k.kill);
      const [fields, killed] = (await p.exec()) as [Record<string, unknown> | null, number];
      const toBool = (v: unknown) => (v === true || v === "true" ? true : v === false || v === "false" ? false : undefined);
      const override = tenantId ? toBool(fields?.[`tenant:${tenantId}`]) : undefined;
      const value = resolveFlag({ default: toBool(fields?.default), tenants: override === undefined ? {} : { [tenantId!]: override }, killed: killed > 0 }, tenantId);
      flags.set(cacheKey, { value, until: now() + ttl });
      return value;
    },

    /** Forget cached flags and budgets (tests, or after an admin change). */
    clearCache(): void {
      limiter.clearCache();
      flags.clear();
    },
  };
}

export type TenantGuards = ReturnType<typeof createTenantGuards>;
