import { describe, expect, it } from "vitest";
import { readStackConfig } from "../../infra/config/stackFile";
import { promiseOf, runUnderMocks } from "../../test/pulumiMocks";
import { runPlatformStack } from "./run";

const run = (overrides: Record<string, string>) =>
  runUnderMocks("staging", () => runPlatformStack() as Record<string, any>, { ...readStackConfig("staging"), "bloom:neonApiKey": "k", "bloom:upstashApiKey": "u", ...overrides }, ["bloom:neonApiKey", "bloom:upstashApiKey"]);

describe("rollback by repointing (mocks)", () => {
  it("publishes connections to the branch bloom:appBranch names, and migrates that branch", async () => {
    const main = await run({});
    const rolledBack = await run({ "bloom:appBranch": "predeploy-20261127-0900-abcdef12" });
    expect(await promiseOf(main.outputs.appDatabaseUrl)).toContain("@main.");
    expect(await promiseOf(rolledBack.outputs.appDatabaseUrl)).toContain("@predeploy-20261127-0900-abcdef12.");
    expect(await promiseOf(rolledBack.outputs.migratorDatabaseUrl)).toContain("@predeploy-20261127-0900-abcdef12.");
    const conn = rolledBack.registered.find((r) => r.type === "pulumi-nodejs:dynamic/bloom:BranchConnection")!;
    expect(await promiseOf(conn.inputs.branchName)).toBe("predeploy-20261127-0900-abcdef12");
    // The database, roles and project are untouched by a repoint: same names, same inputs.
    for (const type of ["DatabaseProject", "Database", "DatabaseRole", "AppRole"]) {
      const a = main.registered.find((r) => r.type === `pulumi-nodejs:dynamic/bloom:${type}`)!;
      const b = rolledBack.registered.find((r) => r.type === `pulumi-nodejs:dynamic/bloom:${type}`)!;
      expect(await promiseOf(b.inputs.name)).toEqual(await promiseOf(a.inputs.name));
    }
  });

  it("rejects a migrations folder that does not exist before anything registers", async () => {
    const { failure, registered } = await run({ "bloom:migrations": JSON.stringify({ dir: "no/such/folder" }) });
    expect(String(failure)).toMatch(/no\/such\/folder does not exist/);
    expect(registered).toEqual([]);
  });
});
