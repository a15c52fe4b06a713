import { beforeAll, describe, expect, it } from "vitest";
import { promiseOf } from "../../test/pulumiMocks";
import { describeCommonStackChecks, runStackUnderMocks, type StackRun } from "./describeStackProgram";

describe("platform program — local stack (mocks)", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStackUnderMocks("local");
  });
  describeCommonStackChecks("local", () => run);

  it("uses the embedded Postgres by default (no server URL) behind the pooler, and namespaces the app role", async () => {
    const backend = await promiseOf(run.one("pulumi-nodejs:dynamic/bloom:DatabaseProject").inputs.backend);
    expect(backend).toEqual({ kind: "local", poolerPort: 6435 });
    expect(await promiseOf(run.one("pulumi-nodejs:dynamic/bloom:AppRole").inputs.name)).toBe("bloom_local__bloom_app");
  });

  it("does not protect local data (the local stack is disposable)", () => {
    expect(run.one("pulumi-nodejs:dynamic/bloom:DatabaseProject").opts.protect).toBeFalsy();
    expect(run.one("pulumi-nodejs:dynamic/bloom:Database").opts.retainOnDelete).toBeFalsy();
  });
});
