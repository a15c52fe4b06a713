import * as pulumi from "@pulumi/pulumi";
import * as cloudformation from "@pulumi/aws/cloudformation";
import * as s3 from "@pulumi/aws/s3";
import { createHash } from "node:crypto";
import type { Provider as AwsProvider } from "@pulumi/aws";
import { personalDataTags, requestLogRopa } from "../../infra/compliance/ropaAnnotations";
import { ALERT_TOPIC_OUTPUT, MAX_INLINE_TEMPLATE_BYTES, TENANTS_PER_SHARD, type ObservabilitySpec } from "../../infra/observability/cdkTemplates";
import { synthesizeInWorker } from "../../infra/observability/synthInWorker";
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
 * The environment's observability: the CDK templates (infra/observability) deployed as CloudFormation stacks. The
 * environment template (topic, log group, filters, the environment's SLO) is small and goes inline; each tenant
 * shard is uploaded to a bucket and passed by URL (CloudFormation takes at most 51,200 bytes inline; a shard of 50
 * tenants is ~350 kB). Templates are synthesized on a worker thread while the program goes on (synthInWorker.ts).
 * Outputs the custom-metric budget (each tenant dimension value is a billed metric).
 */
export class Observability extends pulumi.ComponentResource {
  readonly metricBudget: MetricBudget;
  readonly stackNames: string[];

  constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    // Its inputs are what the policy pack checks (every enterprise tenant has alarms).
    // The request logs' ROPA annotation rides on the component (the policy pack and `bloom ropa` read it here):
    // AWS tag values allow letters, digits, spaces and _.:/=+-@ only, which an annotation's prose does not keep.
    super("bloom:observability:Observability", name, { sloTenants: args.sloTenants, ropa: requestLogRopa(args.region, args.spec.logRetentionDays) }, opts);
    const child = { parent: this, provider: args.provider };
    const spec: ObservabilitySpec = { ...args.spec, sloTenants: args.sloTenants };
    const templates = pulumi.output(synthesizeInWorker(spec));
    const shardCount = Math.ceil(args.sloTenants.length / TENANTS_PER_SHARD);
    const envName = `bloom-${args.spec.environment}-observability`;
    const body = (i: number) => templates.apply((ts) => {
      const t = ts[i]!;
      if (i === 0 && Buffer.byteLength(t.body) > MAX_INLINE_TEMPLATE_BYTES) throw new Error(`${t.name} is ${Buffer.byteLength(t.body)} bytes, over the ${MAX_INLINE_TEMPLATE_BYTES} CloudFormation takes inline`);
      return t.body;
    });

    // Request logs hold personal data: the stack (and each resource it tags) says so and where the record is.
    const envStack = new cloudformation.Stack(envName, { name: envName, templateBody: body(0), tags: personalDataTags(pulumi.getStack()) }, child);
    const topicArn = envStack.outputs.apply((o) => o[ALERT_TOPIC_OUTPUT] as string);
    const shardNames = Array.from({ length: shardCount }, (_, i) => `bloom-${args.spec.environment}-slo-${i + 1}`);
    if (shardCount) {
      const bucket = new s3.Bucket(`${name}-templates`, { bucketPrefix: `bloom-${args.spec.environment}-cfn-`, forceDestroy: true }, child);
      new s3.BucketPublicAccessBlock(`${name}-templates-private`, { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true }, child);
      shardNames.forEach((shard, i) => {
        const content = body(i + 1);
        // The key carries the content hash: a changed template is a new object, an unchanged one no diff.
        const key = content.apply((b) => `${shard}-${createHash("sha256").update(b).digest("hex").slice(0, 16)}.json`);
        const object = new s3.BucketObjectv2(`${shard}-template`, { bucket: bucket.id, key, content, contentType: "application/json" }, child);
        new cloudformation.Stack(shard, {
          name: shard,
          templateUrl: pulumi.interpolate`https://${bucket.bucketRegionalDomainName}/${object.key}`,
          parameters: { [ALERT_TOPIC_OUTPUT]: topicArn },
          tags: { "bloom:slo-tenants": String(Math.min(TENANTS_PER_SHARD, args.sloTenants.length - i * TENANTS_PER_SHARD)) },
        }, child);
      });
    }
    this.metricBudget = metricBudget(args.tenants);
    this.stackNames = [envName, ...shardNames];
    this.registerOutputs({ metricBudget: this.metricBudget, stackNames: this.stackNames });
  }
}
