import { beforeAll, describe, expect, it } from "vitest";
import { describeCommonStackChecks, runStackUnderMocks, type StackRun } from "./describeStackProgram";

describe("platform program — prod stack (mocks)", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStackUnderMocks("prod");
  });
  describeCommonStackChecks("prod", () => run);

  it("protects and retains every resource that holds data", () => {
    for (const type of ["DatabaseProject", "Database"]) {
      const res = run.one(`pulumi-nodejs:dynamic/bloom:${type}`);
      expect(res.opts.protect, `${type}.protect`).toBe(true);
      expect(res.opts.retainOnDelete, `${type}.retainOnDelete`).toBe(true);
    }
  });
});
