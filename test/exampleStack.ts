import { rmSync } from "node:fs";
import { Client } from "pg";
import { runWithTenant } from "@bloom/tenant-runtime";
import { stopLocalRestEndpoint } from "../infra/kv/localEndpoint";
import { openStackContext, type StackContext } from "../scripts/runbook/stackContext";
import { e2eStackFile, tearDownTenantStack } from "./e2eStack";

/**
 * A throw-away local stack for the example app (the gates and `bench:tenant-load`): clinics alpha and beta declared
 * in its config and `up` (the platform writes their clinic and catalog rows), then each clinic's branch, therapist,
 * paquete and patients written through the runtime as the app — never as the migrator.
 */
export const EXAMPLE_CLINICS = {
  alpha: { branch: "branch-A", therapist: "thera-1", paquete: "pkg-alpha", patient: "pat-alpha" },
  beta: { branch: "branch-B", therapist: "thera-b", paquete: "pkg-beta", patient: "pat-beta" },
} as const;
export type ExampleClinic = keyof typeof EXAMPLE_CLINICS;

export interface ExampleStack {
  ctx: StackContext;
  dir: string;
  /** What `runBloom` needs to run the runbook CLI on this stack. */
  cli: { stackName: string; configFile: string; root: string };
  appDatabaseUrl: string;
  outputs(): ReturnType<StackContext["stack"]["outputs"]>;
  /** Sets one config value (JSON) and runs `up`. */
  setConfig(key: string, value: unknown): Promise<void>;
  /** Destroys the stack (and first the tenant stacks of `dedicated`) and removes what it left. */
  close(opts?: { dedicated?: string[] }): Promise<void>;
}

export async function openExampleStack(stackName: string, opts: { edit?: (config: Record<string, unknown>) => void; extraPatients?: number } = {}): Promise<ExampleStack> {
  const e2e = await e2eStackFile(stackName, (config) => {
    config["bloom:tenants"] = Object.keys(EXAMPLE_CLINICS).map((id) => ({ id, name: `${id[0]!.toUpperCase()}${id.slice(1)} Clinic`, tier: "standard", isolation: "pooled" }));
    const flags = config["bloom:flags"] as Record<string, { tenants?: Record<string, boolean> }>;
    flags.tenancy_enabled = { ...flags.tenancy_enabled, tenants: {} }; // the local stack's pilot override names a tenant not declared here
    opts.edit?.(config);
  });
  const ctx = await openStackContext({ stackName, configFile: e2e.configFile, root: e2e.root });
  const close = async ({ dedicated = [] }: { dedicated?: string[] } = {}) => {
    for (const tenant of dedicated) await tearDownTenantStack(ctx, tenant, e2e.root);
    await ctx.stack.destroy().catch(() => undefined);
    await ctx.stack.workspace.removeStack(stackName).catch(() => undefined);
    rmSync(e2e.dir, { recursive: true, force: true });
    stopLocalRestEndpoint(e2e.kvPort, undefined, { forget: true });
  };
  try {
    await ctx.stack.up();
    const appDatabaseUrl = (await ctx.stack.outputs()).appDatabaseUrl!.value as string;
    await seedExampleClinics(appDatabaseUrl, opts.extraPatients ?? 0);
    return {
      ctx,
      dir: e2e.dir,
      cli: { stackName, configFile: e2e.configFile, root: e2e.root },
      appDatabaseUrl,
      outputs: () => ctx.stack.outputs(),
      async setConfig(key, value) {
        await ctx.stack.setConfig(key, { value: JSON.stringify(value) });
        await ctx.stack.up();
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The patients a clinic's sessions can name: its own, then `<patient>-<n>` for n < extraPatients. */
export const examplePatients = (clinic: ExampleClinic, extra: number) => [EXAMPLE_CLINICS[clinic].patient, ...Array.from({ length: extra }, (_, n) => `${EXAMPLE_CLINICS[clinic].patient}-${n}`)];

async function seedExampleClinics(appDbUrl: string, extraPatients: number): Promise<void> {
  const c = new Client({ connectionString: appDbUrl });
  await c.connect();
  try {
    for (const [tenant, ids] of Object.entries(EXAMPLE_CLINICS)) {
      await runWithTenant(c, tenant, async (tx) => {
        await tx.query(`INSERT INTO branch (id, name) VALUES ($1, $1)`, [ids.branch]);
        await tx.query(`INSERT INTO therapist (id, name, branch_id) VALUES ($1, $1, $2)`, [ids.therapist, ids.branch]);
        await tx.query(`INSERT INTO paquete (id, name, sessions, price_cents) VALUES ($1, $1, 5, 5000)`, [ids.paquete]);
        await tx.query(`INSERT INTO patient (id, name) SELECT p, p FROM unnest($1::text[]) p`, [examplePatients(tenant as ExampleClinic, extraPatients)]);
      });
    }
  } finally {
    await c.end();
  }
}
