import { unknownCheckingProxy, type PolicyResource, type ResourceValidationArgs, type ResourceValidationPolicy, type StackValidationPolicy } from "@pulumi/policy";
import { resolvedDeep, type RegisteredResource } from "../test/pulumiMocks";

/**
 * Runs rules the way the engine hands them resources, for tests: props behind @pulumi/policy's unknownCheckingProxy
 * (as in a preview, where a rule must not trip over an unknown), and the options a policy sees.
 */
export interface PolicySubject {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
  protect?: boolean;
}

function resourceArgs(s: PolicySubject): ResourceValidationArgs {
  return {
    type: s.type,
    name: s.name,
    urn: s.urn,
    props: unknownCheckingProxy(s.props),
    opts: { protect: !!s.protect, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`not applicable: ${reason}`);
    },
  } as ResourceValidationArgs;
}

export async function violationsOf(policy: ResourceValidationPolicy, subject: PolicySubject): Promise<string[]> {
  const found: string[] = [];
  const validations = Array.isArray(policy.validateResource) ? policy.validateResource : policy.validateResource ? [policy.validateResource] : [];
  for (const v of validations) await v(resourceArgs(subject), (message) => found.push(message));
  return found;
}

export async function stackViolationsOf(policy: StackValidationPolicy, subjects: PolicySubject[]): Promise<string[]> {
  const found: string[] = [];
  const resources = subjects.map((s) => ({ type: s.type, name: s.name, urn: s.urn, props: unknownCheckingProxy(s.props), opts: resourceArgs(s).opts, dependencies: [], propertyDependencies: {} }) as unknown as PolicyResource);
  await policy.validateStack?.({ resources, getConfig: <T extends object>() => ({}) as T } as never, (message) => found.push(message));
  return found;
}

/** What a program registered under mocks, as policy subjects (inputs resolved, URN built as the engine would). */
export async function subjectsOf(stack: string, registered: RegisteredResource[], project = "bloom-platform"): Promise<PolicySubject[]> {
  return Promise.all(registered.map(async (r) => ({
    type: r.type,
    name: r.name,
    urn: `urn:pulumi:${stack}::${project}::${r.type}::${r.name}`,
    props: await resolvedDeep<Record<string, unknown>>(r.inputs ?? {}),
    protect: !!r.opts.protect,
  })));
}
