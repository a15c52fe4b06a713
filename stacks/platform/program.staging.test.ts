import { beforeAll, describe, expect, it } from "vitest";
import { promiseOf } from "../../test/pulumiMocks";
import { describeCommonStackChecks, FAKE_NEON_KEY, runStackUnderMocks, type StackRun } from "./describeStackProgram";

describe("platform program — staging stack (mocks)", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStackUnderMocks("staging");
  });
  describeCommonStackChecks("staging", () => run);

  it("creates the pool on Neon in the EU with the configured Postgres and history", async () => {
    const project = run.one("pulumi-nodejs:dynamic/bloom:DatabaseProject");
    expect(await promiseOf(project.inputs.regionId)).toBe("aws-eu-central-1");
    expect(await promiseOf(project.inputs.pgVersion)).toBe(17);
    expect(await promiseOf(project.inputs.historyRetentionSeconds)).toBe(86400);
    expect(await promiseOf(project.inputs.backend)).toMatchObject({ kind: "neon", apiKey: FAKE_NEON_KEY });
    expect(await promiseOf(run.one("pulumi-nodejs:dynamic/bloom:AppRole").inputs.name)).toBe("bloom_app");
  });

  it("leaves staging data unprotected so the stack can be torn down", () => {
    expect(run.one("pulumi-nodejs:dynamic/bloom:DatabaseProject").opts.protect).toBeFalsy();
  });
});

describe("platform program — a credential in plain text (mocks)", () => {
  it("is refused before anything registers, naming the key and the fix (the engine says which keys are secrets)", async () => {
    const { readStackConfig } = await import("../../infra/config/stackFile");
    const { runPlatformStack } = await import("./run");
    const { runUnderMocks } = await import("../../test/pulumiMocks");
    const config = { ...readStackConfig("staging"), "bloom:neonApiKey": "napi_plaintext", "bloom:upstashApiKey": "u", "bloom:cloudflareApiToken": "c" };
    const { registered, failure } = await runUnderMocks("staging", () => runPlatformStack() as Record<string, unknown>, config, ["bloom:upstashApiKey", "bloom:cloudflareApiToken"]);
    expect(registered).toEqual([]);
    expect(String(failure)).toMatch(/bloom:neonApiKey: is in plain text in the stack's config/);
    expect(String(failure)).not.toMatch(/upstashApiKey|cloudflareApiToken/);
    expect(String(failure)).not.toContain("napi_plaintext");
  });
});
