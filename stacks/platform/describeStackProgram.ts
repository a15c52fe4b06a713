import * as pulumi from "@pulumi/pulumi";
import { expect, it } from "vitest";
import path from "node:path";
import { readStackConfig, REPO_ROOT } from "../../infra/config/stackFile";
import { loadMigrations, migrationsContentHash } from "../../infra/migrations/migrationSource";
import { isSecretOutput, promiseOf, type RegisteredResource } from "../../test/pulumiMocks";
import { FAKE_PLATFORM_SECRETS, runPlatformUnderMocks } from "../../test/platformUnderMocks";

export const FAKE_NEON_KEY = FAKE_PLATFORM_SECRETS["bloom:neonApiKey"]!;
export const FAKE_UPSTASH_KEY = FAKE_PLATFORM_SECRETS["bloom:upstashApiKey"]!;

export interface StackRun {
  registered: RegisteredResource[];
  outputs: Record<string, unknown>;
  ofType(type: string): RegisteredResource[];
  one(type: string): RegisteredResource;
}

/** Runs the platform program for a committed stack file under Pulumi mocks and records what the engine would receive. */
export async function runStackUnderMocks(stack: string): Promise<StackRun> {
  const { registered, outputs, failure } = await runPlatformUnderMocks(stack, readStackConfig(stack));
  if (failure) throw failure;
  const ofType = (type: string) => registered.filter((r) => r.type === type);
  const one = (type: string) => {
    const found = ofType(type);
    expect(found, `exactly one ${type}`).toHaveLength(1);
    return found[0]!;
  };
  return { registered, outputs, ofType, one };
}

/** The checks every stack must pass; stack-specific tests add their own. */
export function describeCommonStackChecks(stack: string, run: () => StackRun) {
  it("registers the pool database component with project, migrator, database and app role under it", async () => {
    const r = run();
    const pool = r.one("bloom:database:PoolDatabase");
    expect(pool.name).toBe("pool");
    for (const t of ["DatabaseProject", "DatabaseRole", "Database", "AppRole"]) {
      const child = r.one(`pulumi-nodejs:dynamic/bloom:${t}`);
      expect(child.opts.parent, `${t} is parented to the pool`).toBeDefined();
      // The parent's URN names its type and name: the pool component, not merely some parent.
      expect(await promiseOf((child.opts.parent as pulumi.Resource).urn), `${t}'s parent`).toMatch(/[:$]bloom:database:PoolDatabase::pool$/);
    }
  });

  it("names the project after the environment and passes the backend as a secret input", async () => {
    const r = run();
    const project = r.one("pulumi-nodejs:dynamic/bloom:DatabaseProject");
    expect(await promiseOf(project.inputs.name)).toBe(`bloom-${stack}`);
    for (const res of r.ofType("pulumi-nodejs:dynamic/bloom:DatabaseProject").concat(r.ofType("pulumi-nodejs:dynamic/bloom:Database"))) {
      expect(await pulumi.isSecret(res.inputs.backend), `${res.name}.backend is secret`).toBe(true);
    }
  });

  it("marks passwords and connection strings as secret outputs", async () => {
    const r = run();
    expect(r.one("pulumi-nodejs:dynamic/bloom:DatabaseRole").opts.additionalSecretOutputs).toEqual(["password"]);
    expect(r.one("pulumi-nodejs:dynamic/bloom:Database").opts.additionalSecretOutputs).toEqual(["directUri", "pooledUri"]);
    expect(r.one("pulumi-nodejs:dynamic/bloom:AppRole").opts.additionalSecretOutputs).toEqual(["password", "directUri", "pooledUri"]);
    expect(await isSecretOutput(r.outputs.appDatabaseUrl)).toBe(true);
    expect(await isSecretOutput(r.outputs.migratorDatabaseUrl)).toBe(true);
  });

  it("keeps credentials out of every plain output", async () => {
    const r = run();
    for (const [key, value] of Object.entries(r.outputs)) {
      if (await isSecretOutput(value)) continue;
      const text = JSON.stringify(await promiseOf(value as pulumi.Output<unknown>));
      expect(text, key).not.toContain(FAKE_NEON_KEY);
      expect(text, key).not.toContain(FAKE_UPSTASH_KEY);
      expect(text, key).not.toContain("mock-kv-token");
      expect(text ?? "", key).not.toMatch(/postgres(ql)?:\/\/[^@\s"]*:[^@\s"]*@/);
    }
  });

  it("runs the migration hook on the pool's app branch, keyed by the migrations' content hash", async () => {
    const r = run();
    const hook = r.one("pulumi-nodejs:dynamic/bloom:MigrationHook");
    const expected = migrationsContentHash(loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")));
    expect(await promiseOf(hook.inputs.migrationsHash)).toBe(expected);
    expect(await pulumi.isSecret(hook.inputs.targets)).toBe(true);
    const [target] = (await promiseOf(hook.inputs.targets)) as { name: string; branchId: string; migratorUrl: string }[];
    expect(target).toMatchObject({ name: "pool", branchId: "br-main", migratorUrl: "postgres://owner:pw@main.db.invalid/bloom" });
    expect(r.one("bloom:migrations:MigrationHook").opts.dependsOn).toBeDefined();
  });

  it("provisions the key-value store with a secret token, one resource per declared flag, the tier budgets, and each tenant's budget and overrides under its component", async () => {
    const r = run();
    const db = r.one("pulumi-nodejs:dynamic/bloom:KvDatabase");
    expect(db.opts.additionalSecretOutputs).toEqual(["restToken"]);
    expect(await pulumi.isSecret(db.inputs.settings)).toBe(true);
    expect(await isSecretOutput(r.outputs.kvRestToken)).toBe(true);
    const values = readStackConfig(stack);
    const flags = JSON.parse(values["bloom:flags"]!) as Record<string, { default: boolean; tenants?: Record<string, boolean> }>;
    const registeredFlags = r.ofType("pulumi-nodejs:dynamic/bloom:FeatureFlag");
    expect(registeredFlags).toHaveLength(Object.keys(flags).length);
    for (const f of registeredFlags) {
      const name = await promiseOf(f.inputs.name) as string;
      expect(await promiseOf(f.inputs.default)).toBe(flags[name]!.default);
      expect(f.inputs.tenants).toBeUndefined();
      expect(await pulumi.isSecret(f.inputs.store)).toBe(true);
    }
    const tenants = JSON.parse(values["bloom:tenants"]!) as { id: string; tier: string }[];
    type ConfigBudget = { requests: number; window: string; tenantRequests?: number; tenantBurst?: number };
    const limits = JSON.parse(values["bloom:limits"]!) as { tiers: Record<string, ConfigBudget>; tenants?: Record<string, ConfigBudget> };
    // What reaches the store: the config's budget, its tenant-wide cap defaulting to ten identifiers' worth, its
    // burst to one identifier's budget or a 25th of the total, whichever is more.
    const stored = (b: ConfigBudget) => {
      const tenantRequests = b.tenantRequests ?? b.requests * 10;
      return { ...b, tenantRequests, tenantBurst: b.tenantBurst ?? Math.max(b.requests, Math.ceil(tenantRequests / 25)) };
    };
    expect(await promiseOf(r.one("pulumi-nodejs:dynamic/bloom:TierBudgets").inputs.tiers)).toEqual(Object.fromEntries(Object.entries(limits.tiers).map(([k, b]) => [k, stored(b)])));
    const settings = r.ofType("pulumi-nodejs:dynamic/bloom:TenantSettings");
    expect(settings.map((s) => s.name)).toEqual(tenants.map((t) => `tenant-${t.id}-settings`));
    for (const t of tenants) {
      const s = settings.find((x) => x.name === `tenant-${t.id}-settings`)!;
      expect(await promiseOf((s.opts.parent as pulumi.Resource).urn), "its parent is the tenant's component").toMatch(new RegExp(`bloom:tenancy:Tenant::tenant-${t.id}$`));
      expect(await promiseOf(s.inputs.budget)).toEqual(stored(limits.tenants?.[t.id] ?? limits.tiers[t.tier]!));
      const overrides = Object.fromEntries(Object.entries(flags).flatMap(([flag, d]) => (d.tenants?.[t.id] === undefined ? [] : [[flag, d.tenants[t.id]]])));
      expect(await promiseOf(s.inputs.flags)).toEqual(overrides);
      expect(await pulumi.isSecret(s.inputs.store)).toBe(true);
    }
    if (stack !== "local") {
      expect(await promiseOf(db.inputs.settings)).toMatchObject({ kind: "upstash", apiKey: FAKE_UPSTASH_KEY, primaryRegion: "eu-central-1" });
    }
  });

  it("registers one tenant component per configured tenant and publishes the catalog", async () => {
    const r = run();
    const cfgTenants = JSON.parse(readStackConfig(stack)["bloom:tenants"]!) as { id: string; isolation: string }[];
    expect(r.ofType("bloom:tenancy:Tenant").map((t) => t.name)).toEqual(cfgTenants.map((t) => `tenant-${t.id}`));
    const catalog = (await promiseOf(r.outputs.tenantCatalog as pulumi.Output<any[]>)) as any[];
    for (const t of cfgTenants) {
      const entry = catalog.find((e) => e.id === t.id);
      expect(entry.isolation).toBe(t.isolation);
      if (t.isolation === "dedicated") expect(entry).toMatchObject({ stack: `${stack}-${t.id}`, projectName: `bloom-${stack}-${t.id}` });
      else expect(entry.stack).toBeUndefined();
    }
  });
}
