import * as pulumi from "@pulumi/pulumi";

/** What the engine would receive for one resource: type, name, inputs, and the options that matter to us. */
export interface RegisteredResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  opts: pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions;
}

/** Outputs a cloud provider would return, per dynamic resource type. */
const FAKE_OUTPUTS: Record<string, (inputs: any) => Record<string, unknown>> = {
  "pulumi-nodejs:dynamic/bloom:DatabaseProject": (i) => ({ projectId: `${i.name}-id`, defaultBranchId: "br-main" }),
  "pulumi-nodejs:dynamic/bloom:DatabaseBranch": (i) => ({ branchId: `br-${i.name}`, createdAt: "2026-11-27T00:00:00Z" }),
  "pulumi-nodejs:dynamic/bloom:DatabaseRole": (i) => ({ roleName: i.name, password: "mock-password" }),
  "pulumi-nodejs:dynamic/bloom:Database": (i) => ({ databaseName: i.name, directUri: "postgres://owner:pw@db.invalid/bloom", pooledUri: "postgres://owner:pw@db-pooler.invalid/bloom" }),
  "pulumi-nodejs:dynamic/bloom:AppRole": (i) => ({ roleName: i.name, password: "app-pw", directUri: "postgres://app:pw@db.invalid/bloom", pooledUri: "postgres://app:pw@db-pooler.invalid/bloom" }),
  "pulumi-nodejs:dynamic/bloom:BranchConnection": (i) => ({
    branchId: `br-${i.branchName}`,
    migratorDirectUri: `postgres://owner:pw@${i.branchName}.db.invalid/bloom`,
    appPooledUri: `postgres://app:pw@${i.branchName}.db-pooler.invalid/bloom`,
    appDirectUri: `postgres://app:pw@${i.branchName}.db.invalid/bloom`,
  }),
  "pulumi-nodejs:dynamic/bloom:KvDatabase": (i) => ({ databaseId: `db-${i.name}`, restUrl: `https://${i.name}.upstash.invalid`, restToken: "mock-kv-token" }),
  "pulumi-nodejs:dynamic/bloom:KvAppAccess": (i) => ({ readerUser: `${i.userBase}-reader`, readToken: "mock-read-token", limiterUser: `${i.userBase}-limiter`, limiterToken: "mock-limiter-token" }),
  "pulumi-nodejs:dynamic/bloom:TenancyMode": () => ({ mode: "shadow" }),
  "aws:cloudformation/stack:Stack": (i) => ({ outputs: { AlertTopicArn: `arn:aws:sns:eu-central-1:123456789012:${i.name}-alerts` } }),
  "aws:s3/bucket:Bucket": (i) => ({ bucket: `${i.bucketPrefix}mock`, bucketRegionalDomainName: `${i.bucketPrefix}mock.s3.eu-central-1.amazonaws.com` }),
  "pulumi-nodejs:dynamic/bloom:MigrationHook": () => ({ deployId: "predeploy-mock", snapshots: { pool: "predeploy-mock" }, applied: { pool: [] } }),
};

/** Outputs that a StackReference to the named stack sees under mocks. */
export const stackReferenceOutputs: Record<string, Record<string, unknown>> = {};

/**
 * Installs Pulumi mocks, then runs `program` inside a root stack with a transformation that records every resource
 * with its options, so tests assert on what the engine would receive (types, inputs, protect/retain, secret
 * outputs) rather than on private fields.
 */
export async function runUnderMocks<T>(stack: string, program: () => T, config: Record<string, string> = {}, secretKeys: string[] = [], call: (args: pulumi.runtime.MockCallArgs) => Record<string, unknown> = (args) => args.inputs) {
  const registered: RegisteredResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.type === "pulumi:pulumi:StackReference") {
          return { id: args.inputs.name, state: { name: args.inputs.name, outputs: stackReferenceOutputs[args.inputs.name] ?? {}, secretOutputNames: [] } };
        }
        const outputs = FAKE_OUTPUTS[args.type]?.(args.inputs) ?? {};
        return { id: args.custom ? `${args.name}-id` : undefined, state: { ...args.inputs, ...outputs } };
      },
      call,
    },
    "bloom-platform",
    stack,
  );
  pulumi.runtime.setAllConfig(config, secretKeys);
  let outputs: T | undefined;
  let failure: unknown;
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      registered.push({ type: args.type, name: args.name, inputs: args.props, opts: args.opts as RegisteredResource["opts"] });
      return undefined;
    });
    try {
      outputs = program();
    } catch (err) {
      failure = err;
    }
    return {};
  });
  // Let component outputs and registrations settle, so nothing from this run lands on the next run's mocks.
  await (pulumi.runtime as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs();
  return { registered, outputs: outputs as T, failure };
}

export function promiseOf<T>(output: pulumi.Output<T> | T): Promise<T> {
  return pulumi.Output.isInstance(output) ? new Promise((resolve) => (output as pulumi.Output<T>).apply(resolve)) : Promise.resolve(output as T);
}

/** A value with every nested output resolved (an input object as the engine would receive it). */
export function resolvedDeep<T>(value: unknown): Promise<T> {
  return new Promise((resolve) => void pulumi.output(value as pulumi.Input<object>).apply((v: unknown) => resolve(v as T)));
}

export async function isSecretOutput(output: unknown): Promise<boolean> {
  return pulumi.Output.isInstance(output) ? pulumi.isSecret(output as pulumi.Output<unknown>) : false;
}
