import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "../infra/config/stackFile";
import { FAKE_PLATFORM_SECRETS, runPlatformUnderMocks } from "./platformUnderMocks";
import { promiseOf } from "./pulumiMocks";

/**
 * Run with `node --import tsx test/plainInputs.ts <stack>`: the committed stack's program under mocks, compiled by
 * tsx as the engine's paths compile it (vitest compiles differently, and its closures captured less). Prints, as
 * JSON, how many dynamic resources there are, how many `__provider` inputs were read, and every plain (not secret)
 * input of any resource that holds one of the stand-in platform secrets.
 */
async function main() {
  const stack = process.argv[2]!;
  const { registered, failure } = await runPlatformUnderMocks(stack, readStackConfig(stack));
  if (failure) throw failure;
  const findings: string[] = [];
  let providers = 0;
  for (const res of registered) {
    for (const [key, value] of Object.entries(res.inputs ?? {})) {
      const lifted = pulumi.output(value as pulumi.Input<unknown>);
      if (await pulumi.isSecret(lifted)) continue;
      const text = JSON.stringify(await promiseOf(lifted)) ?? "";
      if (key === "__provider") providers++;
      for (const [name, secret] of Object.entries(FAKE_PLATFORM_SECRETS)) if (text.includes(secret)) findings.push(`${res.type} ${res.name}.${key} holds ${name}`);
    }
  }
  const dynamic = registered.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/")).length;
  process.stdout.write(JSON.stringify({ dynamic, providers, findings }) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
