/**
 * AWS's written rules for what the platform sends it: through Pulumi (aws:* resources) and inside the CloudFormation
 * templates it synthesizes. A mock accepts anything; these are what AWS checks. Each rule names its source.
 * A resource type the platform creates without an entry here is itself a finding (checkAwsResources).
 */
export interface TagRule {
  keyMax: number;
  valueMax: number;
  /** Characters a tag key and value may hold. */
  pattern: RegExp;
  source: string;
}

// "letters, numbers, and spaces representable in UTF-8, and the following characters: _ . : / = + - @".
const AWS_TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const generalTags = (source: string): TagRule => ({ keyMax: 128, valueMax: 256, pattern: AWS_TAG_CHARACTERS, source });

/** Per resource type: how its tags are judged, or `untaggable` (CloudFormation does not propagate stack tags to it). */
export const AWS_TAG_RULES: Record<string, TagRule | "untaggable"> = {
  // CloudFormation resource types in the synthesized templates. Stack-level tags are copied onto every taggable one.
  "AWS::Logs::LogGroup": { keyMax: 128, valueMax: 256, pattern: /^[\p{L}\p{N}\s_.:/=+\-@]*$/u, source: "CloudFormation registry schema aws-logs-loggroup.json (aws-cloudformation/aws-cloudformation-resource-providers-logs): Tag.Value pattern ^([\\w\\s\\d_.:/=+\\-@]*)$, maxLength 256" },
  "AWS::SNS::Topic": generalTags("Amazon SNS Developer Guide, tag restrictions (Limits related to topics); AWS::SNS::Topic Tag: key 1-128, value 0-256"),
  "AWS::KMS::Key": generalTags("AWS KMS Developer Guide, tagging keys (tag keys 1-128, values 0-256, AWS tag character set)"),
  "AWS::CloudWatch::Alarm": generalTags("Amazon CloudWatch API Reference, Tag (key 1-128, value 0-256, pattern [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)"),
  "AWS::CloudWatch::CompositeAlarm": generalTags("Amazon CloudWatch API Reference, Tag (key 1-128, value 0-256, pattern [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)"),
  "AWS::SNS::Subscription": "untaggable",
  "AWS::SNS::TopicPolicy": "untaggable",
  "AWS::Logs::MetricFilter": "untaggable",
  "AWS::CloudWatch::Dashboard": "untaggable",
  // What the Pulumi program registers.
  "aws:cloudformation/stack:Stack": generalTags("AWS CloudFormation API Reference, Tag (key 1-128, value 1-256); the stack's tags propagate to its resources"),
  "aws:s3/bucket:Bucket": generalTags("Amazon S3 User Guide, bucket tagging (AWS tag character set, key 1-128, value 0-256)"),
  "aws:s3/bucketObjectv2:BucketObjectv2": { keyMax: 128, valueMax: 256, pattern: AWS_TAG_CHARACTERS, source: "Amazon S3 User Guide, object tagging (up to 10 tags, key 1-128, value 0-256)" },
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "untaggable",
  "pulumi:providers:aws": "untaggable",
};

/** CloudFormation and CloudWatch limits the templates must keep. */
export const AWS_LIMITS = {
  resourcesPerTemplate: { value: 500, source: "AWS CloudFormation User Guide, quotas: resources per stack" },
  inlineTemplateBytes: { value: 51_200, source: "AWS CloudFormation User Guide, quotas: template body size in a request" },
  templateUrlBytes: { value: 1_000_000, source: "AWS CloudFormation User Guide, quotas: template body size in an S3 object" },
  parametersPerTemplate: { value: 200, source: "AWS CloudFormation User Guide, quotas: parameters" },
  outputsPerTemplate: { value: 200, source: "AWS CloudFormation User Guide, quotas: outputs" },
  compositeAlarmRuleChars: { value: 10_240, source: "Amazon CloudWatch API Reference, PutCompositeAlarm: AlarmRule length 1-10240" },
  alarmNameChars: { value: 255, source: "Amazon CloudWatch API Reference, PutMetricAlarm / PutCompositeAlarm: AlarmName length 1-255" },
} as const;

export interface CfnTemplate {
  name: string;
  body: string;
}

/** Every rule above over what is registered (type → inputs) and the templates synthesized; one line per finding. */
export function checkAwsResources(registered: { type: string; name: string; inputs: Record<string, unknown> }[], templates: CfnTemplate[]): string[] {
  const problems: string[] = [];
  const tagProblems = (where: string, type: string, tags: Record<string, unknown> | undefined) => {
    const rule = AWS_TAG_RULES[type];
    if (!rule) return problems.push(`${where}: no AWS rules for ${type}: add its tag rules to infra/vendorRules/aws.ts, with their source`);
    if (rule === "untaggable" || !tags) return;
    for (const [k, v] of Object.entries(tags)) {
      const value = String(v);
      if (k.length > rule.keyMax || !rule.pattern.test(k)) problems.push(`${where}: tag key "${k}" breaks ${type}'s rule (${rule.source})`);
      if (value.length > rule.valueMax || !rule.pattern.test(value)) problems.push(`${where}: tag ${k}="${value}" breaks ${type}'s rule (${rule.source})`);
    }
  };
  const bodies = new Map(templates.map((t) => [t.name, t.body]));
  for (const r of registered.filter((x) => x.type.startsWith("aws:") || x.type === "pulumi:providers:aws")) {
    const tags = r.inputs.tags as Record<string, unknown> | undefined;
    tagProblems(`${r.type} ${r.name}`, r.type, tags);
    if (r.type === "aws:cloudformation/stack:Stack") {
      const name = String(r.inputs.name ?? r.name);
      const body = typeof r.inputs.templateBody === "string" ? r.inputs.templateBody : bodies.get(name);
      if (typeof r.inputs.templateBody === "string" && Buffer.byteLength(r.inputs.templateBody) > AWS_LIMITS.inlineTemplateBytes.value) problems.push(`${name}: inline template over ${AWS_LIMITS.inlineTemplateBytes.value} bytes (${AWS_LIMITS.inlineTemplateBytes.source})`);
      if (!body) continue;
      const resources = (JSON.parse(body) as { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> }).Resources ?? {};
      // The stack's own tags land on each taggable resource of its template.
      for (const type of new Set(Object.values(resources).map((x) => x.Type))) tagProblems(`${name} (stack tags on its ${type})`, type, tags);
      problems.push(...checkTemplate(name, body));
    }
  }
  return problems;
}

function checkTemplate(name: string, body: string): string[] {
  const problems: string[] = [];
  const t = JSON.parse(body) as { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>; Parameters?: object; Outputs?: object };
  const resources = Object.entries(t.Resources ?? {});
  if (resources.length > AWS_LIMITS.resourcesPerTemplate.value) problems.push(`${name}: ${resources.length} resources (${AWS_LIMITS.resourcesPerTemplate.source})`);
  if (Buffer.byteLength(body) > AWS_LIMITS.templateUrlBytes.value) problems.push(`${name}: template over 1 MB (${AWS_LIMITS.templateUrlBytes.source})`);
  if (Object.keys(t.Parameters ?? {}).length > AWS_LIMITS.parametersPerTemplate.value) problems.push(`${name}: too many parameters (${AWS_LIMITS.parametersPerTemplate.source})`);
  if (Object.keys(t.Outputs ?? {}).length > AWS_LIMITS.outputsPerTemplate.value) problems.push(`${name}: too many outputs (${AWS_LIMITS.outputsPerTemplate.source})`);
  for (const [id, r] of resources) {
    const rule = AWS_TAG_RULES[r.Type];
    if (!rule) problems.push(`${name}/${id}: no AWS rules for ${r.Type}: add them to infra/vendorRules/aws.ts, with their source`);
    const tags = r.Properties?.Tags as { Key: string; Value: unknown }[] | undefined;
    if (rule && rule !== "untaggable" && Array.isArray(tags)) {
      for (const tag of tags) if (typeof tag.Value === "string" && (tag.Value.length > rule.valueMax || !rule.pattern.test(tag.Value))) problems.push(`${name}/${id}: tag ${tag.Key}="${tag.Value}" (${rule.source})`);
    }
    const alarmName = r.Properties?.AlarmName;
    if (typeof alarmName === "string" && alarmName.length > AWS_LIMITS.alarmNameChars.value) problems.push(`${name}/${id}: alarm name over 255 characters (${AWS_LIMITS.alarmNameChars.source})`);
    const rule_ = r.Properties?.AlarmRule;
    if (rule_ !== undefined && JSON.stringify(rule_).length > AWS_LIMITS.compositeAlarmRuleChars.value) problems.push(`${name}/${id}: composite alarm rule over 10,240 characters (${AWS_LIMITS.compositeAlarmRuleChars.source})`);
  }
  return problems;
}
