import { Match, Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { MAX_INLINE_TEMPLATE_BYTES, MAX_RESOURCES_PER_STACK, MAX_TEMPLATE_BYTES, MAX_WIDGETS_PER_DASHBOARD, observabilityApp, synthesizeObservability, type ObservabilitySpec } from "./cdkTemplates";
import { metricBudget } from "./slo";

const spec: ObservabilitySpec = { environment: "staging", alertEmail: "oncall@bloom.example", logRetentionDays: 30, availability: 99.9, latencyP95Ms: 800, sloTenants: ["acme", "zen"] };

describe("observability templates (CDK Template assertions)", () => {
  const { stacks } = observabilityApp(spec);
  const env = Template.fromStack(stacks[0]!.stack);
  const shard = Template.fromStack(stacks[1]!.stack);

  it("an encrypted, SSL-only alert topic with the on-call email, and the app's log group with its retention", () => {
    env.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.anyValue() });
    env.hasResourceProperties("AWS::SNS::TopicPolicy", { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })]) } });
    env.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "oncall@bloom.example" });
    env.hasResourceProperties("AWS::Logs::LogGroup", { LogGroupName: "/bloom/staging/app", RetentionInDays: 30 });
  });

  it("pages arrive (issue 23, defect 1): a customer-managed key CloudWatch may use, and a topic policy letting this account's alarms publish", () => {
    // AWS knowledge center, "configure a CloudWatch alarm with an encrypted SNS topic": alias/aws/sns cannot be used,
    // its key policy cannot be edited; the key policy must grant cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*.
    const topics = Object.values(env.findResources("AWS::SNS::Topic"));
    expect(topics).toHaveLength(1);
    const keyRef = (topics[0]!.Properties as { KmsMasterKeyId: unknown }).KmsMasterKeyId;
    expect(JSON.stringify(keyRef)).not.toContain("alias/aws/sns");
    const keys = env.findResources("AWS::KMS::Key");
    const [keyId, key] = Object.entries(keys).find(([id]) => JSON.stringify(keyRef).includes(id))!;
    expect(keyId).toBeDefined();
    expect((key.Properties as { EnableKeyRotation?: boolean }).EnableKeyRotation).toBe(true);
    const statements = (key.Properties as { KeyPolicy: { Statement: { Effect: string; Principal?: { Service?: unknown }; Action: string | string[] }[] } }).KeyPolicy.Statement;
    const forCloudWatch = statements.find((st) => st.Effect === "Allow" && JSON.stringify(st.Principal?.Service ?? "").includes("cloudwatch.amazonaws.com"));
    expect(forCloudWatch, "no key policy statement lets CloudWatch use the topic's key").toBeDefined();
    expect([forCloudWatch!.Action].flat()).toEqual(expect.arrayContaining(["kms:Decrypt", "kms:GenerateDataKey*"]));
    env.hasResourceProperties("AWS::SNS::TopicPolicy", { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
      Effect: "Allow", Principal: { Service: "cloudwatch.amazonaws.com" }, Action: "sns:Publish",
      Condition: { ArnLike: { "aws:SourceArn": Match.anyValue() }, StringEquals: { "aws:SourceAccount": Match.anyValue() } },
    })]) } });
  });

  it("metric filters: requests, errors, latency, tenant-less access, and the per-tenant ones with a Tenant dimension", () => {
    env.hasResourceProperties("AWS::Logs::MetricFilter", { FilterPattern: '{ $.event = "tenantless_access" }', MetricTransformations: [Match.objectLike({ MetricName: "TenantlessAccess", MetricNamespace: "Bloom/staging", MetricValue: "$.count" })] });
    env.hasResourceProperties("AWS::Logs::MetricFilter", { MetricTransformations: [Match.objectLike({ MetricName: "Errors", Dimensions: [{ Key: "Tenant", Value: "$.tenant" }] })] });
    env.resourceCountIs("AWS::Logs::MetricFilter", 7);
  });

  it("the environment SLO: six burn-rate alarms with the workbook's windows and thresholds, page and ticket composites", () => {
    const alarms = Object.values(env.findResources("AWS::CloudWatch::Alarm")).map((r) => r.Properties);
    const burn = alarms.filter((a) => /error budget burn/.test(a.AlarmName));
    const shape = burn.map((a) => ({ threshold: a.Threshold, periods: a.EvaluationPeriods, datapoints: a.DatapointsToAlarm, period: a.Metrics.find((m: { Expression?: string }) => m.Expression).Period ?? a.Metrics[1].MetricStat?.Period }))
      .sort((a, b) => a.threshold - b.threshold || a.period - b.period);
    expect(shape).toEqual([
      { threshold: 0.001, periods: 1, datapoints: 1, period: 21600 }, // ticket short: 6 h
      { threshold: 0.001, periods: 3, datapoints: 3, period: 86400 }, // ticket long: 3 d as 3 × 1 d, all breaching
      { threshold: 0.006, periods: 1, datapoints: 1, period: 1800 }, // page 30 min
      { threshold: 0.006, periods: 1, datapoints: 1, period: 21600 }, // page 6 h
      { threshold: 0.0144, periods: 1, datapoints: 1, period: 300 }, // page 5 min
      { threshold: 0.0144, periods: 1, datapoints: 1, period: 3600 }, // page 1 h
    ]);
    const composites = Object.values(env.findResources("AWS::CloudWatch::CompositeAlarm")).map((r) => r.Properties);
    expect(composites.map((c) => c.AlarmName).sort()).toEqual(["bloom staging SLO page", "bloom staging SLO ticket"]);
    const page = JSON.stringify(composites.find((c) => /page/.test(c.AlarmName)).AlarmRule);
    expect(page.match(/ALARM\(/g)).toHaveLength(4); // (1 h AND 5 min) OR (6 h AND 30 min)
    expect(page).toMatch(/OR/);
    expect(composites.every((c) => c.AlarmActions?.length === 1)).toBe(true);
    env.hasResourceProperties("AWS::CloudWatch::Alarm", { AlarmName: "bloom staging p95 latency over 800 ms", Threshold: 800, ExtendedStatistic: "p95" });
    env.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });

  it("a tenant shard: each SLO tenant's alarms on its Tenant dimension, the topic as a parameter", () => {
    shard.hasParameter("AlertTopicArn", { Type: "String" });
    shard.resourceCountIs("AWS::CloudWatch::Alarm", 2 * 7);
    shard.resourceCountIs("AWS::CloudWatch::CompositeAlarm", 2 * 2);
    const dims = JSON.stringify(shard.findResources("AWS::CloudWatch::Alarm"));
    expect(dims).toContain('"Name":"Tenant","Value":"acme"');
    expect(dims).toContain('"Name":"Tenant","Value":"zen"');
  });

  it("cdk-nag AwsSolutions: no violation (cdk-nag 3 runs as a CDK policy-validation plugin)", () => {
    const { app, stacks: nagged } = observabilityApp(spec);
    const checks = new AwsSolutionsChecks(app, { verbose: true });
    for (const { stack } of nagged) {
      const report = checks.validateScope(stack);
      expect(report.violations.map((v) => `${v.ruleName}: ${v.description.slice(0, 100)}`), stack.stackName).toEqual([]);
      expect(report.success, stack.stackName).toBe(true);
    }
  });
});

describe("templates at scale (1,000 tenants, 10 % enterprise)", () => {
  it("every template is deployable: <= 500 resources, <= 1 MB, dashboards <= 500 widgets; large ones go by URL", () => {
    const tenants = Array.from({ length: 1000 }, (_, i) => ({ id: `clinic-${i}`, tier: i % 10 === 0 ? "enterprise" : "standard", isolation: "pooled" }));
    const sloTenants = tenants.filter((t) => t.tier === "enterprise").map((t) => t.id);
    const templates = synthesizeObservability({ ...spec, sloTenants });
    expect(templates.flatMap((t) => t.tenants).sort()).toEqual([...sloTenants].sort()); // every enterprise tenant has its alarms
    for (const t of templates) {
      expect(t.resources, t.name).toBeLessThanOrEqual(MAX_RESOURCES_PER_STACK);
      expect(Buffer.byteLength(t.body), t.name).toBeLessThanOrEqual(MAX_TEMPLATE_BYTES);
      expect(t.widgets, t.name).toBeLessThanOrEqual(MAX_WIDGETS_PER_DASHBOARD);
    }
    expect(templates.some((t) => Buffer.byteLength(t.body) > MAX_INLINE_TEMPLATE_BYTES)).toBe(true); // shards need the upload path
    expect(metricBudget(tenants)).toMatchObject({ customMetrics: 4 + 100 * 3, sloTenants: 100, byTier: { enterprise: { tenants: 100, withSlo: 100, metrics: 300 }, standard: { tenants: 900, withSlo: 0, metrics: 0 } } });
  }, 120_000); // synthesizing 100 tenants' alarms takes seconds
});
