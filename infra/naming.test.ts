import { describe, expect, it } from "vitest";
import { APP_ROLE, MIGRATOR_ROLE, localBranchDatabase, localRoleName, tenantProjectName } from "./naming";
import { TENANT_ID_MAX } from "./config/schema";

describe("names derived from a tenant id fit where they go", () => {
  const longest = "a".repeat(TENANT_ID_MAX - 2) + "-b"; // 30 characters
  const project = tenantProjectName("staging", longest);
  const snapshot = "predeploy-20261127-0930-1a2b3c4d";

  it("a dedicated tenant's snapshot database is cut to 63 bytes with a hash of the branch, keeping the project prefix", () => {
    const name = localBranchDatabase(project, snapshot);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name.startsWith(`bloom_staging_${"a".repeat(28)}_b__`)).toBe(true);
    expect(localBranchDatabase(project, snapshot)).toBe(name); // deterministic
    expect(localBranchDatabase(project, "predeploy-20261127-0930-ffffffff")).not.toBe(name); // distinct per branch
    expect(localBranchDatabase(project, "main")).toBe(`bloom_staging_${"a".repeat(28)}_b__main`); // short names unchanged
  });

  it("its roles fit without cutting", () => {
    for (const role of [MIGRATOR_ROLE, APP_ROLE]) expect(localRoleName(project, role).length).toBeLessThanOrEqual(63);
  });
});
