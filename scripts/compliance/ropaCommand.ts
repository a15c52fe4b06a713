import { loadStackConfig } from "../../infra/config/stackFile";
import { buildRopa, renderRopaJson, renderRopaMarkdown, type AnnotatedResource } from "../../infra/compliance/ropa";
import { edgeRopa, type RopaAnnotation } from "../../infra/compliance/ropaAnnotations";
import { runPlatformUnderMocks } from "../../test/platformUnderMocks";
import { resolvedDeep } from "../../test/pulumiMocks";

/**
 * `bloom ropa --stack <stack> [--format md|json]`: the Art. 30 records for a stack, from its committed config and
 * what its program declares (evaluated offline under Pulumi mocks: no engine, no cloud, the same bytes each run).
 */
export async function ropaFor(stackName: string, format: "md" | "json"): Promise<string> {
  const { values, config } = loadStackConfig(stackName);
  const { registered, failure } = await runPlatformUnderMocks(stackName, values);
  if (failure) throw failure;
  const annotated: AnnotatedResource[] = [];
  for (const r of registered) {
    // Every resource (or component) that holds personal data carries `ropa`.
    const ropa = r.inputs?.ropa !== undefined ? await resolvedDeep<RopaAnnotation>(r.inputs.ropa) : undefined;
    if (ropa) annotated.push({ type: r.type, name: r.name, ropa });
  }
  // The edge stores nothing of ours, but Cloudflare processes every request in transit.
  if (config.edge) annotated.push({ type: "bloom:edge:Edge", name: "edge", ropa: edgeRopa(config.edge.zone) });
  const record = buildRopa(stackName, config, annotated);
  return format === "json" ? renderRopaJson(record) : renderRopaMarkdown(record);
}
