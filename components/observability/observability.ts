import * as pulumi from "@pulumi/pulumi";
import * as cloudformation from "@pulumi/aws/cloudformation";
import * as s3 from "@pulumi/aws/s3";
import { createHash } from "node:crypto";
import type { Provider as AwsProvider } from "@pulumi/aws";
import { requestLogRopa, ropaTags } from "../../infra/compliance/ropaAnnotations";
import { ALERT_TOPIC_OUTPUT, MAX_INLINE_TEMPLATE_BYTES, synthesizeObservability, type ObservabilitySpec } from "../../infra/observability/cdkTemplates";
import { metricBudget, type MetricBudget } from "../../infra/observability/slo";

export interface ObservabilityArgs {
  spec: Omit<ObservabilitySpec, "sloTenants">;
  /** AWS region of the stacks (ROPA: where the logs live). */
  region: string;
  /** Every tenant: those with an SLO (enterprise or dedicated) get alarms; all count toward the metric budget. */
  tenants: { id: string; tier: string; isolation: string }[];
  /** The tenants with their own SLO (rendered from each tenant's contribution). */
  sloTenants: string[];
  provider: AwsProvider;
}

/**
 * The environment's observability: the CDK templates (infra/observability) deployed as CloudFormation stacks. A
 * template over 51,200 bytes is uploaded to a bucket and passed by URL, as CloudFormation requires. Outputs the
 * custom-metric budget (each tenant dimension value is a billed metric).
 */
export class Observability extends pulumi.ComponentResource {
  readonly metricBudget: MetricBudget;
  readonly stackNames: string[];

  constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    // Its inputs are what the policy pack checks (every enterprise tenant has alarms).
    super("bloom:observability:Observability", name, { sloTenants: args.sloTenants }, opts);
    const child = { parent: this, provider: args.provider };
    const templates = synthesizeObservability({ ...args.spec, sloTenants: args.sloTenants });
    const large = templates.filter((t) => Buffer.byteLength(t.body) > MAX_INLINE_TEMPLATE_BYTES);
    const bucket = large.length ? new s3.BucketV2(`${name}-templates`, { bucketPrefix: `bloom-${args.spec.environment}-cfn-`, forceDestroy: true }, child) : undefined;
    if (bucket) new s3.BucketPublicAccessBlock(`${name}-templates-private`, { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true }, child);

    const [envTemplate, ...shards] = templates;
    const deploy = (t: (typeof templates)[number], extra: Partial<cloudformation.StackArgs>) => {
      let source: Pick<cloudformation.StackArgs, "templateBody" | "templateUrl">;
      if (bucket && Buffer.byteLength(t.body) > MAX_INLINE_TEMPLATE_BYTES) {
        // The key carries the content hash: a changed template is a new object, an unchanged one is no diff.
        const key = `${t.name}-${createHash("sha256").update(t.body).digest("hex").slice(0, 16)}.json`;
        const object = new s3.BucketObjectv2(`${t.name}-template`, { bucket: bucket.id, key, content: t.body, contentType: "application/json" }, child);
        source = { templateUrl: pulumi.interpolate`https://${bucket.bucketRegionalDomainName}/${object.key}` };
      } else source = { templateBody: t.body };
      return new cloudformation.Stack(t.name, { name: t.name, ...source, ...extra }, child);
    };
    // Request logs hold personal data: the environment stack carries its ROPA annotation as tags.
    const envStack = deploy(envTemplate!, { tags: ropaTags(requestLogRopa(args.region, args.spec.logRetentionDays)) });
    const topicArn = envStack.outputs.apply((o) => o[ALERT_TOPIC_OUTPUT] as string);
    for (const shard of shards) deploy(shard, { parameters: { [ALERT_TOPIC_OUTPUT]: topicArn }, tags: { "bloom:slo-tenants": String(shard.tenants.length) } });

    this.metricBudget = metricBudget(args.tenants);
    this.stackNames = templates.map((t) => t.name);
    this.registerOutputs({ metricBudget: this.metricBudget, stackNames: this.stackNames });
  }
}
