import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { promiseOf, runUnderMocks, stackReferenceOutputs } from "../../test/pulumiMocks";
import { dedicatedEntry, tenantProgram } from "./program";

const platform = "bloom/bloom-platform/prod";
stackReferenceOutputs[platform] = {
  tenantCatalog: [
    { id: "legacy", name: "Legacy", tier: "standard", isolation: "pooled" },
    { id: "acme-dental", name: "Acme", tier: "enterprise", isolation: "dedicated", region: "aws-eu-central-1", stack: "prod-acme-dental", projectName: "bloom-prod-acme-dental" },
  ],
  databaseSettings: { backend: "neon", pgVersion: 17, historyRetentionSeconds: 604800 },
  kvRestUrl: "https://bloom-prod.upstash.invalid",
  kvRestToken: "platform-admin-token",
  kvKeyPrefix: "bloom:",
  flags: { tenancy_enabled: { type: "boolean", default: true } },
};

const run = (tenantId: string) =>
  runUnderMocks("prod-acme-dental", () => tenantProgram({ tenantId, environment: "prod", platformStack: platform }, () => pulumi.secret("tenant-neon-key")) as Record<string, any>);

describe("dedicated tenant stack (mocks)", () => {
  it("builds the tenant's own project like the pool, protected on prod, with its own migration hook", async () => {
    const { registered, outputs, failure } = await run("acme-dental");
    expect(failure).toBeUndefined();
    const project = registered.find((r) => r.type === "pulumi-nodejs:dynamic/bloom:DatabaseProject")!;
    expect(await promiseOf(project.inputs.name)).toBe("bloom-prod-acme-dental");
    expect(await promiseOf(project.inputs.regionId)).toBe("aws-eu-central-1");
    expect(await promiseOf(project.inputs.historyRetentionSeconds)).toBe(604800);
    expect(await promiseOf(project.inputs.backend)).toEqual({ kind: "neon", apiKey: "tenant-neon-key" });
    expect([project.opts.protect, project.opts.retainOnDelete]).toEqual([true, true]);
    const hook = registered.find((r) => r.type === "pulumi-nodejs:dynamic/bloom:MigrationHook")!;
    expect(((await promiseOf(hook.inputs.targets)) as { name: string }[]).map((t) => t.name)).toEqual(["tenant:acme-dental"]);
    expect(await pulumi.isSecret(outputs.appDatabaseUrl)).toBe(true);
    // The same boundary as the pool: privileges after the hook, the mode read from the platform's store.
    const mode = registered.find((r) => r.type === "pulumi-nodejs:dynamic/bloom:TenancyMode")!;
    expect(await promiseOf(mode.inputs.store)).toEqual({ restUrl: "https://bloom-prod.upstash.invalid", restToken: "platform-admin-token", prefix: "bloom:" });
    expect(await pulumi.isSecret(mode.inputs.store)).toBe(true);
    expect(await promiseOf(mode.inputs.declaredEnabled)).toBe(true);
    const privileges = registered.find((r) => r.type === "pulumi-nodejs:dynamic/bloom:AppPrivileges")!;
    expect(await promiseOf(privileges.inputs.roleName)).toBe("bloom_app");
  });

  it("refuses a tenant the platform pools, or does not know, naming the fix", () => {
    const catalog = stackReferenceOutputs[platform]!.tenantCatalog as Parameters<typeof dedicatedEntry>[0];
    expect(() => dedicatedEntry(catalog, "legacy", platform)).toThrow(/"legacy" is pooled in bloom\/bloom-platform\/prod: set isolation: dedicated/);
    expect(() => dedicatedEntry(catalog, "ghost", platform)).toThrow(/"ghost" is not in bloom\/bloom-platform\/prod's bloom:tenants/);
  });

  it("rejects a tenant id the config schema rejects (not a slug, reserved, too long) before anything registers", async () => {
    for (const [id, why] of [["Acme Dental", /must be a slug/], ["main", /is reserved by the platform/], ["a".repeat(31), /must be at most 30 characters/]] as const) {
      const { failure, registered } = await run(id);
      expect(String(failure), id).toMatch(new RegExp(`bloom-tenant:tenantId "${id}" ${why.source}`));
      expect(registered).toEqual([]);
    }
  });
});
