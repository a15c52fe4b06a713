import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { App, Aws, CfnOutput, CfnParameter, DefaultStackSynthesizer, Duration, Stack } from "aws-cdk-lib";
import * as cw from "aws-cdk-lib/aws-cloudwatch";
import * as cwActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subs from "aws-cdk-lib/aws-sns-subscriptions";
import type { Construct } from "constructs";
import { alarmShape, BURN_RATE_WINDOWS, burnThreshold } from "./slo";

/**
 * Observability as aws-cdk-lib constructs, synthesized in-process into CloudFormation templates that Pulumi deploys
 * (aws.cloudformation.Stack): no CDK CLI, no bootstrap. One environment stack (alert topic, the app's log group,
 * metric filters, the environment's SLO alarms and dashboard) and as many tenant-SLO shards as CloudFormation's
 * limits need (500 resources, 1 MB per template), each with its own dashboard (500 widgets at most).
 *
 * The metrics come from the app's structured log (one JSON line per request, docs/observability.md):
 *   {"event":"request","tenant":"acme","tier":"enterprise","slo":"tenant","status":200,"durationMs":87}
 *   {"event":"tenantless_access","table":"patient","count":3}
 */
export interface ObservabilitySpec {
  environment: string;
  alertEmail: string;
  logRetentionDays: number;
  availability: number;
  latencyP95Ms: number;
  /** Tenants with their own SLO alarms (enterprise tier or a dedicated database). */
  sloTenants: string[];
  /** Tenants per shard (default TENANTS_PER_SHARD). */
  tenantsPerShard?: number;
}

export interface SynthesizedTemplate {
  /** CloudFormation stack name, e.g. bloom-staging-observability or bloom-staging-slo-1. */
  name: string;
  body: string;
  resources: number;
  widgets: number;
  tenants: string[];
  /** The environment stack's topic ARN is a parameter of every shard. */
  needsAlertTopic: boolean;
}

/** Tenant SLO alarms per shard: 9 resources each, so a shard stays near 450 of CloudFormation's 500. */
export const TENANTS_PER_SHARD = 50;

export const namespaceOf = (environment: string) => `Bloom/${environment}`;
export const ALERT_TOPIC_OUTPUT = "AlertTopicArn";

const synthesizer = () => new DefaultStackSynthesizer({ generateBootstrapVersionRule: false });

function requestMetrics(ns: string, period: Duration, tenant?: string) {
  const dimensionsMap = tenant ? { Tenant: tenant } : undefined;
  return {
    requests: new cw.Metric({ namespace: ns, metricName: "Requests", statistic: "Sum", period, dimensionsMap }),
    errors: new cw.Metric({ namespace: ns, metricName: "Errors", statistic: "Sum", period, dimensionsMap }),
    latency: new cw.Metric({ namespace: ns, metricName: "LatencyMs", statistic: "p95", period, dimensionsMap }),
  };
}

/** The burn-rate alarms of one SLO, their page/ticket composites, and a p95 latency alarm; returns the widgets. */
function addSlo(scope: Construct, id: string, label: string, spec: ObservabilitySpec, topic: sns.ITopic, tenant?: string): cw.IWidget[] {
  const ns = namespaceOf(spec.environment);
  const burn = (windowSeconds: number, factor: number) => {
    const shape = alarmShape(windowSeconds);
    const m = requestMetrics(ns, Duration.seconds(shape.periodSeconds), tenant);
    const ratio = new cw.MathExpression({ expression: "IF(requests > 0, errors / requests, 0)", usingMetrics: { errors: m.errors, requests: m.requests }, period: Duration.seconds(shape.periodSeconds) });
    return new cw.Alarm(scope, `${id}-burn-${windowSeconds}-x${factor}`, {
      alarmName: `${label} error budget burn ${windowSeconds / 60} min at ${factor}x`,
      metric: ratio,
      threshold: burnThreshold(spec.availability, factor),
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: shape.evaluationPeriods,
      datapointsToAlarm: shape.evaluationPeriods,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
  };
  const pairs = BURN_RATE_WINDOWS.map((w) => ({ w, rule: cw.AlarmRule.allOf(cw.AlarmRule.fromAlarm(burn(w.longSeconds, w.factor), cw.AlarmState.ALARM), cw.AlarmRule.fromAlarm(burn(w.shortSeconds, w.factor), cw.AlarmState.ALARM)) }));
  for (const severity of ["page", "ticket"] as const) {
    const rules = pairs.filter((p) => p.w.severity === severity).map((p) => p.rule);
    const composite = new cw.CompositeAlarm(scope, `${id}-${severity}`, { compositeAlarmName: `${label} SLO ${severity}`, alarmRule: cw.AlarmRule.anyOf(...rules) });
    composite.addAlarmAction(new cwActions.SnsAction(topic));
  }
  const m = requestMetrics(ns, Duration.minutes(5), tenant);
  const latency = new cw.Alarm(scope, `${id}-latency`, {
    alarmName: `${label} p95 latency over ${spec.latencyP95Ms} ms`,
    metric: m.latency,
    threshold: spec.latencyP95Ms,
    comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    treatMissingData: cw.TreatMissingData.NOT_BREACHING,
  });
  latency.addAlarmAction(new cwActions.SnsAction(topic));
  return [
    new cw.GraphWidget({ title: `${label}: error ratio`, left: [new cw.MathExpression({ expression: "IF(requests > 0, errors / requests, 0)", usingMetrics: { errors: m.errors, requests: m.requests }, label: "errors / requests" })], width: 12 }),
    new cw.GraphWidget({ title: `${label}: p95 latency (ms)`, left: [m.latency], width: 12 }),
  ];
}

function environmentStack(app: App, spec: ObservabilitySpec, name: string): Stack {
  const stack = new Stack(app, name, { synthesizer: synthesizer(), stackName: name });
  const ns = namespaceOf(spec.environment);
  // A customer-managed key: CloudWatch cannot use the AWS-managed alias/aws/sns (its key policy cannot be edited),
  // so alarms could never publish to a topic encrypted with it (infra/vendorRules/aws.ts, ALARM_TOPIC_RULES).
  const key = new kms.Key(stack, "alerts-key", { description: `Bloom ${spec.environment} alert topic`, enableKeyRotation: true });
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: "CloudWatchAlarmsUseTheTopicKey",
    principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
    actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
    resources: ["*"],
  }));
  const topic = new sns.Topic(stack, "alerts", { displayName: `Bloom ${spec.environment} alerts`, enforceSSL: true, masterKey: key });
  // This account's alarms, and only those, may publish (the topic policy otherwise holds only enforceSSL's Deny).
  topic.addToResourcePolicy(new iam.PolicyStatement({
    sid: "CloudWatchAlarmsPublish",
    principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
    actions: ["sns:Publish"],
    resources: [topic.topicArn],
    conditions: {
      ArnLike: { "aws:SourceArn": `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
      StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID },
    },
  }));
  topic.addSubscription(new subs.EmailSubscription(spec.alertEmail));
  new CfnOutput(stack, ALERT_TOPIC_OUTPUT, { value: topic.topicArn });
  // Request logs name users and clinics: personal data, kept for the configured retention only (ROPA).
  const logGroup = new logs.LogGroup(stack, "app-log", { logGroupName: `/bloom/${spec.environment}/app`, retention: spec.logRetentionDays as logs.RetentionDays });
  const filter = (id: string, pattern: string, metricName: string, metricValue: string, dimensions?: Record<string, string>) =>
    new logs.MetricFilter(stack, id, { logGroup, filterPattern: logs.FilterPattern.literal(pattern), metricNamespace: ns, metricName, metricValue, dimensions });
  filter("requests", '{ $.event = "request" }', "Requests", "1");
  filter("errors", '{ $.event = "request" && $.status >= 500 }', "Errors", "1");
  filter("latency", '{ $.event = "request" }', "LatencyMs", "$.durationMs");
  // The shadow-mode signal: tenant-less access, counted per table (docs/observability.md).
  filter("tenantless", '{ $.event = "tenantless_access" }', "TenantlessAccess", "$.count");
  // Per-tenant metrics only for the tenants the app marks (slo = "tenant"): each dimension value is a billed metric.
  filter("tenant-requests", '{ $.event = "request" && $.slo = "tenant" }', "Requests", "1", { Tenant: "$.tenant" });
  filter("tenant-errors", '{ $.event = "request" && $.slo = "tenant" && $.status >= 500 }', "Errors", "1", { Tenant: "$.tenant" });
  filter("tenant-latency", '{ $.event = "request" && $.slo = "tenant" }', "LatencyMs", "$.durationMs", { Tenant: "$.tenant" });
  const widgets = addSlo(stack, "env", `bloom ${spec.environment}`, spec, topic);
  widgets.push(new cw.GraphWidget({ title: "tenant-less access (shadow mode)", left: [new cw.Metric({ namespace: ns, metricName: "TenantlessAccess", statistic: "Sum", period: Duration.hours(1) })], width: 24 }));
  new cw.Dashboard(stack, "dashboard", { dashboardName: `bloom-${spec.environment}`, widgets: [widgets] });
  return stack;
}

function tenantShard(app: App, spec: ObservabilitySpec, name: string, tenants: string[]): Stack {
  const stack = new Stack(app, name, { synthesizer: synthesizer(), stackName: name });
  const topicArn = new CfnParameter(stack, ALERT_TOPIC_OUTPUT, { type: "String", description: "the environment stack's alert topic" });
  const topic = sns.Topic.fromTopicArn(stack, "alerts", topicArn.valueAsString);
  const widgets = tenants.flatMap((t) => addSlo(stack, `tenant-${t}`, `bloom ${spec.environment} tenant ${t}`, spec, topic, t));
  new cw.Dashboard(stack, "dashboard", { dashboardName: `${name}-tenants`, widgets: [widgets] });
  return stack;
}

export const MAX_RESOURCES_PER_STACK = 500;
export const MAX_WIDGETS_PER_DASHBOARD = 500;
export const MAX_TEMPLATE_BYTES = 1_000_000;
export const MAX_INLINE_TEMPLATE_BYTES = 51_200;

/** Builds the CDK app for the spec (tests run cdk-nag and Template assertions on it). */
export function observabilityApp(spec: ObservabilitySpec, outdir?: string): { app: App; stacks: { stack: Stack; tenants: string[] }[] } {
  const app = new App({ outdir, analyticsReporting: false, context: { "aws:cdk:disable-stack-trace": true } });
  const envName = `bloom-${spec.environment}-observability`;
  const stacks = [{ stack: environmentStack(app, spec, envName), tenants: [] as string[] }];
  const per = spec.tenantsPerShard ?? TENANTS_PER_SHARD;
  const sorted = [...spec.sloTenants].sort();
  for (let i = 0; i * per < sorted.length; i++) {
    const tenants = sorted.slice(i * per, (i + 1) * per);
    stacks.push({ stack: tenantShard(app, spec, `bloom-${spec.environment}-slo-${i + 1}`, tenants), tenants });
  }
  return { app, stacks };
}

/** Synthesizes every template; throws, naming the template, when one would break a CloudFormation limit. */
export function synthesizeObservability(spec: ObservabilitySpec): SynthesizedTemplate[] {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "bloom-cdk-"));
  try {
    const { app, stacks } = observabilityApp(spec, outdir);
    const assembly = app.synth();
    return stacks.map(({ stack, tenants }) => {
      const template = assembly.getStackByName(stack.stackName).template as { Resources: Record<string, { Type: string; Properties?: { DashboardBody?: unknown } }> };
      const body = JSON.stringify(template);
      const resources = Object.keys(template.Resources).length;
      const widgets = Object.values(template.Resources).filter((r) => r.Type === "AWS::CloudWatch::Dashboard").reduce((n, r) => n + countWidgets(r.Properties?.DashboardBody), 0);
      if (resources > MAX_RESOURCES_PER_STACK) throw new Error(`observability template ${stack.stackName} has ${resources} resources (CloudFormation allows ${MAX_RESOURCES_PER_STACK}): lower tenantsPerShard`);
      if (Buffer.byteLength(body) > MAX_TEMPLATE_BYTES) throw new Error(`observability template ${stack.stackName} is ${Buffer.byteLength(body)} bytes (CloudFormation allows ${MAX_TEMPLATE_BYTES}): lower tenantsPerShard`);
      if (widgets > MAX_WIDGETS_PER_DASHBOARD) throw new Error(`observability template ${stack.stackName} has a dashboard of ${widgets} widgets (at most ${MAX_WIDGETS_PER_DASHBOARD}): lower tenantsPerShard`);
      return { name: stack.stackName, body, resources, widgets, tenants, needsAlertTopic: tenants.length > 0 };
    });
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Widgets in a synthesized DashboardBody (a string, or Fn::Join parts when it references tokens). */
function countWidgets(body: unknown): number {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return (text.match(/\\?"type\\?":\\?"metric\\?"/g) ?? []).length;
}
