import * as pulumi from "@pulumi/pulumi";
import type { Stack } from "@pulumi/pulumi/automation";
import { tenantProgram } from "../../stacks/tenant/program";
import { listLocalStacks, openLocalStack } from "./localStack";

/**
 * A dedicated tenant's stack (`stacks/tenant`) through the Automation API, in the same backend as its platform
 * stack, so its StackReference to the platform resolves. Its name is the catalog's: `<environment>-<tenant>`.
 */
export interface TenantStackOptions {
  tenantId: string;
  environment: string;
  /** The platform stack's name in this backend (the StackReference is organization/bloom-platform/<name>). */
  platformStack: string;
  /** The stack name (the catalog entry's `stack`). */
  stackName: string;
  root?: string;
  /** The platform's migrations folder: a tenant database runs the same migrations as the pool. */
  migrationsDir?: string;
  /** For Neon environments: the tenant stack's own copy of the API key (a secret in its config). */
  neonApiKey?: string;
}

export async function openTenantStack(opts: TenantStackOptions): Promise<Stack> {
  const cfg = { tenantId: opts.tenantId, environment: opts.environment, platformStack: `organization/bloom-platform/${opts.platformStack}`, migrationsDir: opts.migrationsDir };
  const stack = await openLocalStack({
    stackName: opts.stackName,
    root: opts.root,
    projectName: "bloom-tenant",
    program: async () => tenantProgram(cfg, () => new pulumi.Config("bloom-tenant").requireSecret("neonApiKey")),
  });
  await stack.setAllConfig({
    "bloom-tenant:tenantId": { value: cfg.tenantId },
    "bloom-tenant:environment": { value: cfg.environment },
    "bloom-tenant:platformStack": { value: cfg.platformStack },
    ...(cfg.migrationsDir ? { "bloom-tenant:migrationsDir": { value: cfg.migrationsDir } } : {}),
    ...(opts.neonApiKey ? { "bloom-tenant:neonApiKey": { value: opts.neonApiKey, secret: true } } : {}),
  });
  return stack;
}

/** The tenant stacks in the backend (every environment's), without creating any. */
export function listTenantStacks(root?: string): Promise<string[]> {
  return listLocalStacks("bloom-tenant", root);
}
