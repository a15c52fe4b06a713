import { describe, expect, it } from "vitest";
import { ConfigValidationError, validatePlatformConfig } from "./validate";
import { configReader, readStackConfig } from "./stackFile";

const valid = () => ({
  environment: "staging",
  database: { backend: "neon", neon: { regionId: "aws-eu-central-1", pgVersion: 17, historyRetentionSeconds: 86400 } },
  tenants: [
    { id: "legacy", name: "Legacy", tier: "standard", isolation: "pooled", region: "aws-eu-central-1", residency: "eu" },
    { id: "acme-dental", name: "Acme", tier: "enterprise", isolation: "dedicated", region: "aws-eu-central-1", residency: "eu" },
  ],
  flags: { tenancy_enabled: { type: "boolean", default: false, tenants: { legacy: true } } },
  limits: { tiers: { standard: { requests: 100, window: "1 m" }, professional: { requests: 300, window: "1 m" }, enterprise: { requests: 1000, window: "1 m" } } },
  observability: { region: "eu-central-1", alertEmail: "oncall@bloom.example" },
});

/** The edge as prod has it: the origin inside the zone. */
const withEdge = (c: any) => (c.edge = { zoneId: "0f9e8d7c6b5a49382716f5e4d3c2b1a0", zone: "bloom.example", origin: "app-prod.bloom.example", plan: { name: "business" } });

function problemsOf(cfg: Record<string, unknown>): { path: string; message: string }[] {
  try {
    validatePlatformConfig((k) => cfg[k], undefined, Object.keys(cfg));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return (err as ConfigValidationError).problems;
  }
  throw new Error("config was accepted");
}

type Mutator = (c: any) => void;
/** Each bad config names the field it must be rejected for. */
const corpus: [string, Mutator, string][] = [
  ["missing environment", (c) => delete c.environment, "bloom:environment"],
  ["unknown environment", (c) => (c.environment = "qa"), "bloom:environment"],
  ["unknown backend", (c) => (c.database.backend = "rds"), "bloom:database.backend"],
  ["neon backend without neon settings", (c) => delete c.database.neon, "bloom:database.neon"],
  ["bad neon region", (c) => (c.database.neon.regionId = "eu-central-1"), "bloom:database.neon.regionId"],
  ["neon org id Neon would refuse", (c) => (c.database.neon.orgId = "Org_ACME"), "bloom:database.neon.orgId"],
  ["unsupported pg version", (c) => (c.database.neon.pgVersion = 12), "bloom:database.neon.pgVersion"],
  ["negative history retention", (c) => (c.database.neon.historyRetentionSeconds = -1), "bloom:database.neon.historyRetentionSeconds"],
  ["history retention over 30 days", (c) => (c.database.neon.historyRetentionSeconds = 3_000_000), "bloom:database.neon.historyRetentionSeconds"],
  ["local server url not postgres", (c) => (c.database = { backend: "local", local: { serverUrl: "mysql://x" } }), "bloom:database.local.serverUrl"],
  ["staging copy into prod", (c) => { c.environment = "prod"; c.stagingCopy = { from: "staging" }; }, "bloom:stagingCopy"],
  ["staging copy with a sample and tenants", (c) => (c.stagingCopy = { from: "prod", sample: "10%", tenants: ["legacy"] }), "bloom:stagingCopy.sample"],
  ["staging copy sample not a share", (c) => (c.stagingCopy = { from: "prod", sample: "10" }), "bloom:stagingCopy.sample"],
  ["staging copy kept beyond Neon's expiry", (c) => (c.stagingCopy = { from: "prod", keepPreviousDays: 31 }), "bloom:stagingCopy.keepPreviousDays"],
  ["prod on local", (c) => { c.environment = "prod"; c.database = { backend: "local" }; }, "bloom:database.backend"],
  ["typo key in database", (c) => (c.database.nepn = {}), "bloom:database"],
  ["tenant id with capitals", (c) => (c.tenants[0].id = "Acme"), "bloom:tenants[0].id"],
  ["tenant id with underscore", (c) => (c.tenants[0].id = "acme_dental"), "bloom:tenants[0].id"],
  ["tenant id with spaces", (c) => (c.tenants[0].id = "acme dental"), "bloom:tenants[0].id"],
  ["tenant id SQL injection", (c) => (c.tenants[0].id = "x\";drop database x;--"), "bloom:tenants[0].id"],
  ["tenant id too long", (c) => (c.tenants[0].id = "a".repeat(31)), "bloom:tenants[0].id"],
  ["tenant id reserved", (c) => (c.tenants[0].id = "main"), "bloom:tenants[0].id"],
  ["tenant id trailing hyphen", (c) => (c.tenants[0].id = "acme-"), "bloom:tenants[0].id"],
  ["duplicate tenant id", (c) => (c.tenants[1].id = "legacy"), "bloom:tenants[1].id"],
  ["unknown tier", (c) => (c.tenants[0].tier = "gold"), "bloom:tenants[0].tier"],
  ["unknown isolation", (c) => (c.tenants[0].isolation = "siloed"), "bloom:tenants[0].isolation"],
  ["dedicated on neon without region", (c) => delete c.tenants[1].region, "bloom:tenants[1].region"],
  ["empty tenant name", (c) => (c.tenants[0].name = ""), "bloom:tenants[0].name"],
  ["tenants not a list", (c) => (c.tenants = "legacy"), "bloom:tenants"],
  ["unknown flag type", (c) => (c.flags.tenancy_enabled.type = "percentage"), "bloom:flags.tenancy_enabled.type"],
  ["flag default not boolean", (c) => (c.flags.tenancy_enabled.default = "no"), "bloom:flags.tenancy_enabled.default"],
  ["flag override for unknown tenant", (c) => (c.flags.tenancy_enabled.tenants = { ghost: true }), "bloom:flags.tenancy_enabled.tenants.ghost"],
  ["flag name not snake_case", (c) => (c.flags["Tenancy-Enabled"] = { type: "boolean", default: false }), "bloom:flags.Tenancy-Enabled"],
  ["negative limit", (c) => (c.limits.tiers.standard.requests = -5), "bloom:limits.tiers.standard.requests"],
  ["bad window", (c) => (c.limits.tiers.standard.window = "1 minute"), "bloom:limits.tiers.standard.window"],
  ["tenant total below one identifier's", (c) => (c.limits.tiers.standard.tenantRequests = 50), "bloom:limits.tiers.standard.tenantRequests"],
  // Refused before anything registers (issue 20): what the policy pack would catch only at `up`, or nothing would.
  ["a dedicated tenant's region outside its residency", (c) => (c.tenants[1].residency = "us"), "bloom:tenants[1].region"],
  ["a pooled tenant whose residency the pool's region does not satisfy", (c) => ((c.tenants[0].residency = "us"), delete c.tenants[0].region), "bloom:tenants[0].residency"],
  ["a tenant without a residency off the local stack", (c) => delete c.tenants[0].residency, "bloom:tenants[0].residency"],
  ["a prod history retention below the pack's 7 days", (c) => ((c.environment = "prod"), (c.kv = { backend: "upstash", upstash: { email: "ops@bloom.example", primaryRegion: "eu-central-1" } })), "bloom:database.neon.historyRetentionSeconds"],
  ["a misspelt region that fits the pattern", (c) => (c.database.neon.regionId = "aws-eu-centrall-1"), "bloom:database.neon.regionId"],
  ["a Neon Azure region, retired", (c) => (c.tenants[1].region = "azure-gwc"), "bloom:tenants[1].region"],
  ["a rate-limit window of 0 s", (c) => (c.limits.tiers.standard.window = "0 s"), "bloom:limits.tiers.standard.window"],
  ["a rate-limit window the edge cannot count (1 d)", (c) => (withEdge(c), (c.limits.tiers.standard.window = "1 d")), "bloom:limits"],
  ["a tenant id that is the environment's own origin", (c) => (withEdge(c), (c.tenants[0].id = "app-prod"), (c.flags.tenancy_enabled.tenants = {})), "bloom:tenants[0].id"],
  ["an SLO availability whose 14.4x burn-rate alarm can never fire", (c) => (c.observability.slo = { availability: 93 }), "bloom:observability.slo.availability"],
  ["an enterprise tenant without observability off the local stack", (c) => delete c.observability, "bloom:observability"],
  ["tenant burst above the tenant's total", (c) => (c.limits.tiers.standard.tenantBurst = 1_001), "bloom:limits.tiers.standard.tenantBurst"],
  ["missing tier budget", (c) => delete c.limits.tiers.enterprise, "bloom:limits.tiers.enterprise"],
  ["limit override for unknown tenant", (c) => (c.limits.tenants = { ghost: { requests: 5, window: "1 m" } }), "bloom:limits.tenants.ghost"],
  ["unknown top-level key", (c) => (c.tennants = []), "bloom:tennants"],
  ["upstash store without settings", (c) => (c.kv = { backend: "upstash" }), "bloom:kv.upstash"],
  ["upstash region unknown", (c) => (c.kv = { backend: "upstash", upstash: { email: "ops@bloom.example", primaryRegion: "eu-central-2" } }), "bloom:kv.upstash.primaryRegion"],
  ["prod flags on local redis", (c) => (c.environment = "prod"), "bloom:kv.backend"],
  ["local redis url not redis", (c) => (c.kv = { backend: "local", local: { redisUrl: "http://x" } }), "bloom:kv.local.redisUrl"],
];

describe("bloom config validation", () => {
  it("accepts a valid config and applies defaults", () => {
    const cfg = validatePlatformConfig((k) => (valid() as Record<string, unknown>)[k]);
    expect(cfg.appBranch).toBe("main");
    expect(cfg.tenants.map((t) => t.id)).toEqual(["legacy", "acme-dental"]);
  });

  it.each(corpus)("rejects %s, naming the field", (_label, mutate, path) => {
    const cfg = valid();
    mutate(cfg);
    const problems = problemsOf(cfg);
    expect(problems.map((p) => p.path)).toContain(path);
    for (const p of problems) expect(p.message.length).toBeGreaterThan(10);
  });

  it("refuses a credential the engine holds in plain text, naming the key and the fix; a secret one passes", () => {
    const read = (k: string) => (valid() as Record<string, unknown>)[k];
    const keys = [...Object.keys(valid()), "neonApiKey"];
    expect(() => validatePlatformConfig(read, "staging", keys, () => false)).toThrow(/bloom:neonApiKey: is in plain text in the stack's config .*pulumi config set --secret bloom:neonApiKey/);
    expect(validatePlatformConfig(read, "staging", keys, (k) => k === "neonApiKey").environment).toBe("staging");
  });

  it("lists every problem at once, not just the first", () => {
    const cfg: any = valid();
    cfg.tenants[0].id = "Bad Id";
    cfg.tenants[1].tier = "gold";
    cfg.limits.tiers.standard.requests = 0;
    const problems = problemsOf(cfg);
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining(["bloom:tenants[0].id", "bloom:tenants[1].tier", "bloom:limits.tiers.standard.requests"]));
  });

  it("says how to fix it in the error text", () => {
    const cfg: any = valid();
    cfg.tenants[0].id = "Acme";
    expect(() => validatePlatformConfig((k) => cfg[k], "staging")).toThrow(/stack "staging".*\n.*bloom:tenants\[0\]\.id: .*lowercase letters, digits and single hyphens/);
  });

  it("reports a value that cannot be parsed under its key", () => {
    const problems = (() => {
      try {
        validatePlatformConfig((k) => { if (k === "tenants") throw new SyntaxError("Unexpected token"); return (valid() as any)[k]; });
      } catch (err) { return (err as ConfigValidationError).problems; }
      return [];
    })();
    expect(problems[0]).toMatchObject({ path: "bloom:tenants", message: expect.stringContaining("could not be parsed") });
  });

  it.each(["local", "staging", "prod"])("the committed %s stack file is valid", (stack) => {
    const cfg = validatePlatformConfig(configReader(readStackConfig(stack)), stack);
    expect(cfg.environment).toBe(stack);
    if (stack !== "local") {
      expect(cfg.database.backend).toBe("neon");
      expect(cfg.database.neon?.regionId).toMatch(/^aws-eu-/);
      expect(cfg.tenants.some((t) => t.isolation === "dedicated")).toBe(true);
    }
  });
});
