import * as pulumi from "@pulumi/pulumi";
import { configReader, readStackConfig } from "../../infra/config/stackFile";
import { validatePlatformConfig } from "../../infra/config/validate";
import { buildRopa, renderRopaJson, renderRopaMarkdown, type AnnotatedResource } from "../../infra/compliance/ropa";
import type { RopaAnnotation } from "../../infra/compliance/ropaAnnotations";
import { runUnderMocks } from "../../test/pulumiMocks";
import { runPlatformStack } from "../../stacks/platform/run";

/**
 * `bloom ropa --stack <stack> [--format md|json]`: the Art. 30 records for a stack, from its committed config and
 * what its program declares (evaluated offline under Pulumi mocks: no engine, no cloud, the same bytes each run).
 */
export async function ropaFor(stackName: string, format: "md" | "json"): Promise<string> {
  const values = readStackConfig(stackName);
  const config = validatePlatformConfig(configReader(values), stackName, Object.keys(values).map((k) => k.slice("bloom:".length)));
  const secrets = { "bloom:neonApiKey": "not-needed-for-the-record", "bloom:upstashApiKey": "not-needed-for-the-record" };
  const { registered, failure } = await runUnderMocks(stackName, () => runPlatformStack() as Record<string, unknown>, { ...values, ...secrets }, Object.keys(secrets));
  if (failure) throw failure;
  const annotated: AnnotatedResource[] = [];
  for (const r of registered) {
    if (r.inputs?.ropa === undefined) continue;
    const ropa = await new Promise<RopaAnnotation>((resolve) => pulumi.output(r.inputs.ropa as pulumi.Input<RopaAnnotation>).apply(resolve));
    annotated.push({ type: r.type, name: r.name, ropa });
  }
  const record = buildRopa(stackName, config, annotated);
  return format === "json" ? renderRopaJson(record) : renderRopaMarkdown(record);
}
