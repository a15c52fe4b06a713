import { z } from "zod";
import { regionAllowed, RESIDENCIES, tenantDataRegion } from "../compliance/residency";
import { MIN_PROD_HISTORY_SECONDS } from "../compliance/dataProtection";
import { BURN_RATE_WINDOWS, burnThreshold } from "../observability/slo";
import { NEON_MAX_BRANCH_EXPIRY_HOURS, NEON_REGIONS, NEON_SOURCES, neonRegionProblem } from "../vendorRules/neon";
import { CLOUDFLARE_PLANS } from "../vendorRules/cloudflare";
import { EdgePlanError, rateLimitRules, tenantHostname } from "../edge/edgeRules";
import { budgetWindowMs } from "@bloom/tenant-runtime/limiter";
import { tenantTotalOf } from "../kv/budgetStore";

/**
 * The one schema for `bloom:*` stack config. Every message says what is wrong *and* how to fix it, because the
 * reader is an operator looking at `pulumi up` output, not at this file.
 */

/** Tenant ids end up in database, branch, role and DNS names, so they are held to a conservative slug. */
export const TENANT_ID_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const TENANT_ID_MAX = 30;
const RESERVED_TENANT_IDS = new Set(["main", "pool", "shared", "platform", "postgres", "template0", "template1"]);

const tenantId = z
  .string({ error: "must be a string slug such as \"acme-dental\"" })
  .min(2, "must be at least 2 characters, e.g. \"acme-dental\"")
  .max(TENANT_ID_MAX, `must be at most ${TENANT_ID_MAX} characters; shorten it (it becomes part of database names)`)
  .regex(TENANT_ID_PATTERN, "must be a slug: lowercase letters, digits and single hyphens, starting with a letter (e.g. \"acme-dental\")")
  .refine((id) => !RESERVED_TENANT_IDS.has(id), { message: "is reserved by the platform; choose another id" });

/** What is wrong with a tenant id, as the stack file's check says it (the tenant stack holds its id to the same rule). */
export function tenantIdProblem(id: string): string | undefined {
  const parsed = tenantId.safeParse(id);
  return parsed.success ? undefined : parsed.error.issues[0]!.message;
}

export const TIERS = ["standard", "professional", "enterprise"] as const;
export const ISOLATIONS = ["pooled", "dedicated"] as const;

/** Neon region ids as the API spells them (`aws-eu-central-1`), one of those Neon offers (a misspelling passes a pattern). */
const neonRegion = z
  .string({ error: "must be a Neon region id such as \"aws-eu-central-1\" (see neon.com/docs/introduction/regions)" })
  .superRefine((region, ctx) => {
    const problem = neonRegionProblem(region);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const tenant = z
  .object({
    id: tenantId,
    name: z.string().min(1, "must be the clinic's display name, e.g. \"Acme Dental\""),
    tier: z.enum(TIERS, { error: `must be one of ${TIERS.join(", ")}` }),
    isolation: z.enum(ISOLATIONS, { error: "must be \"pooled\" (shared database, RLS) or \"dedicated\" (own Neon project)" }),
    region: neonRegion.optional(),
    /** Where the tenant's data may live (checked by the policy pack against the region its database is in). */
    residency: z.enum(RESIDENCIES, { error: `must be one of ${RESIDENCIES.join(", ")} (where the clinic's data may live)` }).optional(),
  })
  .strict();

/** Who answers for the processing (GDPR Art. 30): the ROPA is written from this and the stack's resources. */
const compliance = z
  .object({
    controller: z.object({ name: z.string().min(1), contact: z.string().min(3, "must be an email or address") }).strict(),
    dpo: z.object({ contact: z.string().min(3, "must be an email or address") }).strict().optional(),
    /** Days a moved or offboarded tenant's rows stay in the old place before they are purged. */
    purgeGraceDays: z.number().int("must be a whole number of days").min(0).max(90, "must be <= 90").default(7),
  })
  .strict();

const MAX_BURN_FACTOR = Math.max(...BURN_RATE_WINDOWS.map((w) => w.factor));

/** Observability on AWS (CloudWatch through CloudFormation): SLOs per environment and per enterprise/dedicated tenant. */
const observability = z
  .object({
    /** AWS region of the alarms, topic and log groups, e.g. "eu-central-1". */
    region: z.string().regex(/^[a-z]{2}-[a-z]+-\d$/, "must be an AWS region such as \"eu-central-1\""),
    /** Where pages and tickets go (SNS email subscription). */
    alertEmail: z.string().regex(/^[^@\s]+@[^@\s]+$/, "must be an email address for the on-call alert topic"),
    logRetentionDays: z.number().int().refine((d) => [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365].includes(d), "must be a CloudWatch retention: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180 or 365").default(30),
    slo: z
      .object({
        /** Availability target in percent, e.g. 99.9: the error budget is 100 - availability. */
        availability: z
          .number()
          .gt(90, "must be > 90 (percent)")
          .lt(100, "must be < 100 (percent)")
          .refine((a) => burnThreshold(a, MAX_BURN_FACTOR) < 1, {
            // A burn-rate alarm fires when the error ratio passes factor × budget: at or above 100 % it never can.
            message: `must leave each burn-rate alarm a threshold below 100 % errors (${MAX_BURN_FACTOR}× the error budget): at least ${(100 - 100 / MAX_BURN_FACTOR).toFixed(2)}`,
          })
          .default(99.9),
        /** p95 latency objective in milliseconds. */
        latencyP95Ms: z.number().int().positive().default(800),
      })
      .strict()
      .default({ availability: 99.9, latencyP95Ms: 800 }),
  })
  .strict();

/** The edge on Cloudflare: one zone per environment, tenants at <tenant>.<zone>. */
const edge = z
  .object({
    zoneId: z.string().regex(/^[0-9a-f]{32}$/, "must be the zone's 32-hex-character id (Cloudflare dashboard → Overview → Zone ID)"),
    /** The environment's zone, e.g. "staging.bloom.example": tenant <id> gets <id>.<zone>. */
    zone: z.string().regex(/^([a-z0-9-]+\.)+[a-z]{2,}$/, "must be a DNS zone such as \"bloom.example\""),
    /** Where tenant hostnames point (CNAME), e.g. the app's load balancer. */
    origin: z.string().regex(/^([a-z0-9-]+\.)+[a-z]{2,}$/, "must be a hostname such as \"app.bloom.example\""),
    /** The zone's Cloudflare plan: what rate limiting it offers (infra/vendorRules/cloudflare.ts). */
    plan: z
      .object({
        name: z.enum(CLOUDFLARE_PLANS, { message: `must be one of ${CLOUDFLARE_PLANS.join(", ")} (the zone's Cloudflare plan)` }),
        /** Enterprise with Advanced Rate Limiting: counts per tenant host as well as per client IP. */
        advancedRateLimiting: z.boolean().default(false),
        /** Enterprise only: the contract's number of rate limiting rules. */
        rateLimitRules: z.number().int().min(1).optional(),
      })
      .strict()
      .superRefine((p, ctx) => {
        if (p.name !== "enterprise" && p.advancedRateLimiting) ctx.addIssue({ code: "custom", path: ["advancedRateLimiting"], message: "is an Enterprise add-on: set name: enterprise, or drop it" });
        if (p.name !== "enterprise" && p.rateLimitRules !== undefined) ctx.addIssue({ code: "custom", path: ["rateLimitRules"], message: `is fixed by Cloudflare below Enterprise (${p.name}): drop it` });
      })
      .default({ name: "business", advancedRateLimiting: false }),
    /**
     * Entry-point rulesets made outside the platform that `pulumi import` brought into the stack, by phase → id
     * (docs/observability.md, "A zone that already has rules"): the platform then owns their rules.
     */
    adoptedRulesets: z
      .object({
        http_ratelimit: z.string().regex(/^[0-9a-f]{32}$/, "must be the ruleset's 32-hex-character id").optional(),
        http_response_headers_transform: z.string().regex(/^[0-9a-f]{32}$/, "must be the ruleset's 32-hex-character id").optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL such as postgres://postgres@127.0.0.1:5432/postgres");

const localDatabase = z
  .object({
    /** Maintenance connection to the server that hosts the branches; absent = an embedded server is started. */
    serverUrl: postgresUrl.optional(),
    /** Loopback port of the PgBouncer (transaction pooling) the app's pooled URL goes through, as on Neon. */
    poolerPort: z.number().int("must be a whole number").min(1024, "must be a port >= 1024").max(65535, "must be a port <= 65535").default(6435),
  })
  .strict();

const neonDatabase = z
  .object({
    regionId: neonRegion,
    pgVersion: z.union([z.literal(15), z.literal(16), z.literal(17), z.literal(18)], {
      error: "must be a Postgres major version Neon offers: 15, 16, 17 or 18",
    }),
    historyRetentionSeconds: z
      .number({ error: "must be a number of seconds, e.g. 86400 for one day" })
      .int("must be a whole number of seconds")
      .min(0, "must be >= 0")
      .max(2_592_000, "must be <= 2592000 (30 days, Neon's maximum)"),
    // Neon's organization ids: lowercase letters, digits and hyphens, at most 60 (e.g. org-morning-bread-81040908).
    orgId: z.string().regex(/^[a-z0-9-]{1,60}$/, "must be a Neon organization id: lowercase letters, digits and hyphens, at most 60 (e.g. \"org-morning-bread-81040908\")").optional(),
    /** Only for tests against a local fake; production uses Neon's public endpoint. */
    apiBaseUrl: z.string().url("must be an http(s) URL").optional(),
  })
  .strict();

const database = z
  .object({
    backend: z.enum(["neon", "local"], { error: "must be \"neon\" (cloud) or \"local\" (Postgres on loopback)" }),
    local: localDatabase.optional(),
    neon: neonDatabase.optional(),
  })
  .strict()
  .superRefine((db, ctx) => {
    if (db.backend === "neon" && !db.neon) {
      ctx.addIssue({ code: "custom", path: ["neon"], message: "is required when backend is \"neon\": set regionId, pgVersion and historyRetentionSeconds" });
    }
    if (db.backend === "local" && db.neon) {
      ctx.addIssue({ code: "custom", path: ["neon"], message: "is set but backend is \"local\": remove it or set backend to \"neon\"" });
    }
  });

const flag = z
  .object({
    type: z.literal("boolean", { error: "must be \"boolean\" (the only flag type the store serves)" }),
    default: z.boolean({ error: "must be true or false" }),
    /** Per-tenant overrides: tenant id → value. */
    tenants: z.record(z.string(), z.boolean({ error: "must be true or false" })).optional(),
    description: z.string().optional(),
  })
  .strict();

const budget = z
  .object({
    /** Requests of one identifier (a user, an API key) in the window. */
    requests: z.number({ error: "must be a number of requests" }).int("must be a whole number").positive("must be > 0"),
    window: z
      .string()
      .regex(/^\d+ ?(ms|s|m|h|d)$/, "must be a window such as \"1 m\", \"30 s\" or \"1 h\"")
      .refine((w) => budgetWindowMs(w) !== 0, "must be longer than 0, e.g. \"1 m\""),
    /** Requests of the whole tenant in the window, every identifier together (default: 10 × requests). */
    tenantRequests: z.number({ error: "must be a number of requests" }).int("must be a whole number").positive("must be > 0").optional(),
    /** How many of tenantRequests may come at once; the rest are admitted at an even pace (default: requests, or tenantRequests / 25 if more). */
    tenantBurst: z.number({ error: "must be a number of requests" }).int("must be a whole number").positive("must be > 0").optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.tenantRequests !== undefined && b.tenantRequests < b.requests) {
      ctx.addIssue({ code: "custom", path: ["tenantRequests"], message: `is ${b.tenantRequests}, below requests (${b.requests}): the tenant's total cannot be less than one identifier's; raise it or lower requests` });
    }
    const total = tenantTotalOf(b);
    if (b.tenantBurst !== undefined && b.tenantBurst > total) {
      ctx.addIssue({ code: "custom", path: ["tenantBurst"], message: `is ${b.tenantBurst}, above the tenant's total (${total} per ${b.window}): a burst is part of the total; lower it or raise tenantRequests` });
    }
  });

const limits = z
  .object({
    tiers: z.object(Object.fromEntries(TIERS.map((t) => [t, budget])) as Record<(typeof TIERS)[number], typeof budget>).strict(),
    tenants: z.record(z.string(), budget).optional(),
  })
  .strict();

const FLAG_NAME = /^[a-z][a-z0-9_]*$/;

/** Upstash primary regions for a global database (what its developer API accepts). */
const UPSTASH_REGIONS = ["us-east-1", "us-west-1", "us-west-2", "eu-central-1", "eu-west-1", "sa-east-1", "ap-southeast-1", "ap-southeast-2"] as const;

const kv = z
  .object({
    backend: z.enum(["upstash", "local"], { error: "must be \"upstash\" (cloud) or \"local\" (Redis on loopback behind the Upstash-compatible endpoint)" }),
    upstash: z
      .object({
        email: z.string().email("must be the Upstash account email"),
        primaryRegion: z.enum(UPSTASH_REGIONS, { error: `must be one of ${UPSTASH_REGIONS.join(", ")}` }),
        readRegions: z.array(z.enum(UPSTASH_REGIONS, { error: `must be one of ${UPSTASH_REGIONS.join(", ")}` })).optional(),
        /** Only for tests against a local fake. */
        apiBaseUrl: z.string().url().optional(),
      })
      .strict()
      .optional(),
    local: z
      .object({
        /** A Redis of your own (with no usable default user); absent: the local stack's own redis-server. */
        redisUrl: z.string().regex(/^rediss?:\/\//, "must be a redis:// URL such as redis://127.0.0.1:6379").optional(),
        port: z.number().int().min(1024, "must be a port >= 1024").max(65535, "must be a port <= 65535").default(8079),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.backend === "upstash" && !v.upstash) ctx.addIssue({ code: "custom", path: ["upstash"], message: "is required when backend is \"upstash\": set email and primaryRegion" });
  });

const migrations = z
  .object({
    /** The app's prisma/migrations folder; relative paths are taken from the repository root. */
    dir: z.string().min(1).default("prisma/migrations"),
    concurrency: z.number().int("must be a whole number").min(1, "must be >= 1").max(64, "must be <= 64 (each target holds a connection)").default(8),
    // Pre-deploy snapshots expire on Neon's clock, which takes an expiry at most 30 days ahead.
    snapshotTtlHours: z.number().int("must be a whole number of hours").min(1, "must be >= 1").max(NEON_MAX_BRANCH_EXPIRY_HOURS, `must be <= ${NEON_MAX_BRANCH_EXPIRY_HOURS} (30 days): Neon refuses a branch expiry further ahead (${NEON_SOURCES.branchExpiration})`).default(168),
  })
  .strict();

/**
 * A staging copy of another stack's data (`bloom staging refresh`): where it comes from, which tenants by default
 * (the command's flags choose otherwise), how long the previous copy is kept once a new one is in use.
 */
const stagingCopy = z
  .object({
    from: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be the stack the copy is made from, e.g. \"prod\""),
    sample: z.string().regex(/^\d+(\.\d+)?%$/, "must be a share of tenants such as \"10%\"").optional(),
    tenants: z.array(tenantId).min(1).optional(),
    keepPreviousDays: z.number().int().min(1).max(NEON_MAX_BRANCH_EXPIRY_HOURS / 24, "is at most 30: Neon expires a branch at most 30 days ahead").default(7),
  })
  .strict();

/** Written by `bloom rollback`, so `rollback --undo` knows where to return. */
const rollback = z
  .object({
    /** `repoint`: bloom:appBranch moved to the snapshot. `restore`: main took the snapshot's data, old data kept. */
    mode: z.enum(["repoint", "restore"]),
    from: z.string().min(1),
    to: z.string().min(1),
    at: z.string().min(1),
    /** restore mode: the branch holding main's state from before the restore. */
    preserved: z.string().min(1).optional(),
    /** repoint mode: the snapshot's expiry before the rollback cleared it (undo gives it back, no earlier than now + TTL). */
    snapshotExpiresAt: z.string().min(1).optional(),
  })
  .strict();

/**
 * Where a tenant's data may live, checked here with what the policy pack checks at `up` (policies/rules/tenants.ts),
 * so a mistake is refused before anything registers. Off the local stack only (loopback has no region).
 */
function residencyProblems(
  cfg: { database: { backend: string; neon?: { regionId: string } } },
  t: { residency?: (typeof RESIDENCIES)[number]; region?: string; isolation: string },
  i: number,
): { path: (string | number)[]; message: string }[] {
  if (cfg.database.backend === "local") return [];
  if (!t.residency) return [{ path: ["tenants", i, "residency"], message: `is required off the local stack: where the clinic's data may live (${RESIDENCIES.join(", ")})` }];
  const residency = t.residency;
  const allowed = () => NEON_REGIONS.filter((r) => regionAllowed(residency, r)).join(", ");
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (t.region && !regionAllowed(residency, t.region)) {
    problems.push({ path: ["tenants", i, "region"], message: `is ${t.region}, which residency "${residency}" does not allow: choose one of ${allowed()}, or correct the residency` });
  }
  const pool = cfg.database.neon?.regionId ?? "local";
  if (t.isolation === "pooled" && !regionAllowed(residency, tenantDataRegion(t, pool))) {
    problems.push({ path: ["tenants", i, "residency"], message: `is "${residency}", but a pooled tenant's data lives in the pool's region ${pool} (bloom:database.neon.regionId): make it dedicated in one of ${allowed()}, or correct the residency` });
  }
  return problems;
}

export const platformConfigSchema = z
  .object({
    environment: z.enum(["local", "staging", "prod"], { error: "must be \"local\", \"staging\" or \"prod\"" }),
    database,
    /** The branch the app is pointed at: "main", or a snapshot branch name during a rollback. */
    appBranch: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be a branch name such as \"main\"").default("main"),
    tenants: z.array(tenant, { error: "must be a list of tenants (id, name, tier, isolation)" }).default([]),
    flags: z.record(z.string().regex(FLAG_NAME, "flag names are snake_case, e.g. \"tenancy_enabled\""), flag).default({}),
    limits: limits.optional(),
    migrations: migrations.default({ dir: "prisma/migrations", concurrency: 8, snapshotTtlHours: 168 }),
    kv: kv.default({ backend: "local" }),
    rollback: rollback.optional(),
    compliance: compliance.optional(),
    observability: observability.optional(),
    edge: edge.optional(),
    stagingCopy: stagingCopy.optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.stagingCopy && cfg.environment === "prod") {
      ctx.addIssue({ code: "custom", path: ["stagingCopy"], message: "is set on prod: prod is never the target of a copy; set it on the staging stack" });
    }
    if (cfg.stagingCopy?.sample && cfg.stagingCopy.tenants) {
      ctx.addIssue({ code: "custom", path: ["stagingCopy", "sample"], message: "and stagingCopy.tenants exclude each other: name the tenants, or sample them" });
    }
    const seen = new Map<string, number>();
    cfg.tenants.forEach((t, i) => {
      const first = seen.get(t.id);
      if (first !== undefined) {
        ctx.addIssue({ code: "custom", path: ["tenants", i, "id"], message: `duplicates tenants[${first}].id "${t.id}": tenant ids must be unique` });
      } else seen.set(t.id, i);
      if (t.isolation === "dedicated" && cfg.database.backend === "neon" && !t.region) {
        ctx.addIssue({ code: "custom", path: ["tenants", i, "region"], message: "is required for a dedicated tenant on Neon (its own project needs a region), e.g. \"aws-eu-central-1\"" });
      }
      residencyProblems(cfg, t, i).forEach((issue) => ctx.addIssue({ code: "custom", ...issue }));
      if (cfg.edge && tenantHostname(t.id, cfg.edge.zone) === cfg.edge.origin) {
        ctx.addIssue({ code: "custom", path: ["tenants", i, "id"], message: `"${t.id}" would make ${cfg.edge.origin}, the environment's own origin (bloom:edge.origin), a CNAME to itself: choose another id` });
      }
    });
    if (cfg.environment === "prod" && cfg.database.neon && cfg.database.neon.historyRetentionSeconds < MIN_PROD_HISTORY_SECONDS) {
      ctx.addIssue({ code: "custom", path: ["database", "neon", "historyRetentionSeconds"], message: `is ${cfg.database.neon.historyRetentionSeconds}: prod keeps at least ${MIN_PROD_HISTORY_SECONDS} s (7 days) of point-in-time history (the policy pack's prod-history-retention); raise it` });
    }
    const enterprise = cfg.tenants.filter((t) => t.tier === "enterprise").map((t) => t.id);
    if (cfg.database.backend !== "local" && enterprise.length && !cfg.observability) {
      ctx.addIssue({ code: "custom", path: ["observability"], message: `is required off the local stack when there are enterprise tenants (${enterprise.join(", ")}): each gets its own SLO alarms; set region and alertEmail` });
    }
    for (const [name, f] of Object.entries(cfg.flags)) {
      for (const id of Object.keys(f.tenants ?? {})) {
        if (!seen.has(id)) ctx.addIssue({ code: "custom", path: ["flags", name, "tenants", id], message: `names unknown tenant "${id}": add it to bloom:tenants or remove the override` });
      }
    }
    for (const id of Object.keys(cfg.limits?.tenants ?? {})) {
      if (!seen.has(id)) ctx.addIssue({ code: "custom", path: ["limits", "tenants", id], message: `names unknown tenant "${id}": add it to bloom:tenants or remove the override` });
    }
    if (cfg.edge && cfg.limits) {
      // The rate limiting rules as the edge will render them: whatever the plan cannot express is refused here.
      const limits = cfg.limits;
      const budgets = Object.fromEntries(cfg.tenants.map((t) => [t.id, limits.tenants?.[t.id] ?? limits.tiers[t.tier]]));
      try {
        rateLimitRules(budgets, cfg.edge.zone, cfg.edge.plan);
      } catch (err) {
        if (!(err instanceof EdgePlanError)) throw err;
        ctx.addIssue({ code: "custom", path: err.path, message: err.message.replace(/^bloom:[\w.]+: /, "") });
      }
    }
    if (cfg.environment === "prod" && cfg.kv.backend === "local") {
      ctx.addIssue({ code: "custom", path: ["kv", "backend"], message: "is \"local\" on prod: prod flags and limits must live on \"upstash\"" });
    }
    if (cfg.environment === "prod" && cfg.database.backend === "local") {
      ctx.addIssue({ code: "custom", path: ["database", "backend"], message: "is \"local\" on prod: prod data must live on \"neon\"" });
    }
  });

export type PlatformConfig = z.infer<typeof platformConfigSchema>;
export type TenantConfig = PlatformConfig["tenants"][number];
export type DatabaseConfig = PlatformConfig["database"];
/** The config keys the schema reads, in the order operators see them in Pulumi.<stack>.yaml. */
export const CONFIG_KEYS = ["environment", "database", "appBranch", "tenants", "flags", "limits", "migrations", "rollback", "kv", "compliance", "observability", "edge", "stagingCopy"] as const;
/** Secret settings, read with requireSecret by the program rather than validated as plain values. */
export const SECRET_KEYS = ["neonApiKey", "upstashApiKey", "cloudflareApiToken"] as const;
