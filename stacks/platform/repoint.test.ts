import { describe, expect, it } from "vitest";
import { readStackConfig } from "../../infra/config/stackFile";
import { promiseOf, type RegisteredResource } from "../../test/pulumiMocks";
import { runPlatformUnderMocks } from "../../test/platformUnderMocks";

const run = (overrides: Record<string, string>) =>
  runPlatformUnderMocks("staging", { ...readStackConfig("staging"), ...overrides }) as Promise<{ registered: RegisteredResource[]; outputs: Record<string, any>; failure: unknown }>;

describe("rollback by repointing (mocks)", () => {
  it("publishes connections to the branch bloom:appBranch names, and migrates that branch", async () => {
    const main = await run({});
    const rolledBack = await run({ "bloom:appBranch": "predeploy-20261127-0900-abcdef12" });
    expect(await promiseOf(main.outputs.appDatabaseUrl)).toContain("@main.");
    expect(await promiseOf(rolledBack.outputs.appDatabaseUrl)).toContain("@predeploy-20261127-0900-abcdef12.");
    expect(await promiseOf(rolledBack.outputs.migratorDatabaseUrl)).toContain("@predeploy-20261127-0900-abcdef12.");
    const conn = rolledBack.registered.find((r) => r.type === "pulumi-nodejs:dynamic/bloom:BranchConnection")!;
    expect(await promiseOf(conn.inputs.branchName)).toBe("predeploy-20261127-0900-abcdef12");
    // The database, roles and project are untouched by a repoint: the same resources with the same inputs, every one.
    const inputsOf = async (registered: typeof main.registered, type: string) => {
      const all = registered.filter((r) => r.type === `pulumi-nodejs:dynamic/bloom:${type}`);
      return Promise.all(all.map(async (r) => ({ name: r.name, inputs: Object.fromEntries(await Promise.all(Object.entries(r.inputs).map(async ([k, v]) => [k, await promiseOf(v)]))) })));
    };
    for (const type of ["DatabaseProject", "Database", "DatabaseRole", "AppRole"]) {
      const before = await inputsOf(main.registered, type);
      expect(before.length, type).toBeGreaterThan(0);
      expect(await inputsOf(rolledBack.registered, type), type).toEqual(before);
    }
  });

  it("rejects a migrations folder that does not exist before anything registers", async () => {
    const { failure, registered } = await run({ "bloom:migrations": JSON.stringify({ dir: "no/such/folder" }) });
    expect(String(failure)).toMatch(/no\/such\/folder does not exist/);
    expect(registered).toEqual([]);
  });
});
