import { beforeAll, describe, expect, it } from "vitest";
import { DATA_RESOURCE_TYPES } from "../../policies/rules/dataProtection";
import { describeCommonStackChecks, runStackUnderMocks, type StackRun } from "./describeStackProgram";

describe("platform program — prod stack (mocks)", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStackUnderMocks("prod");
  });
  describeCommonStackChecks("prod", () => run);

  // The policy pack checks `protect` (a policy cannot see retainOnDelete); this test checks both, on the same list.
  it("protects and retains every resource that holds data", () => {
    for (const type of DATA_RESOURCE_TYPES) {
      const res = run.one(type);
      expect(res.opts.protect, `${type}.protect`).toBe(true);
      expect(res.opts.retainOnDelete, `${type}.retainOnDelete`).toBe(true);
    }
  });
});
