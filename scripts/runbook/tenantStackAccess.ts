import type { Stack, UpResult } from "@pulumi/pulumi/automation";
import { readStackConfigFile, writeStackConfigValues } from "../../infra/config/stackFile";
import { catalogEntry } from "../../components/tenancy/tenantRegistration";
import type { DedicatedLocation } from "../../infra/tenancy/move/moveJournal";
import { openTenantStack } from "../engine/tenantStack";
import { reapOrphanedPlugins, recoverStaleLocks } from "../engine/staleLocks";
import type { Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";

/** What the tenant commands need about one declared tenant: its dedicated home and its tenant stack. */
export interface TenantHandle {
  id: string;
  dedicated: DedicatedLocation;
  openStack(): Promise<Stack>;
}

/** `declared: false` for a tenant no longer in the stack file (sync tearing down its leftover stack). */
export function tenantHandle(ctx: StackContext, tenantId: string, opts: { declared: boolean } = { declared: true }): TenantHandle {
  const t = ctx.config.tenants.find((x) => x.id === tenantId);
  if (!t && opts.declared) {
    const known = ctx.config.tenants.map((x) => x.id).join(", ") || "none";
    throw new Error(`unknown tenant "${tenantId}": it is not in bloom:tenants of stack ${ctx.stackName} (declared: ${known})`);
  }
  const entry = catalogEntry(ctx.config.environment, { id: tenantId, name: t?.name ?? tenantId, tier: t?.tier ?? "standard", region: t?.region, isolation: "dedicated" });
  let stack: Stack | undefined;
  return {
    id: tenantId,
    dedicated: { kind: "dedicated", stack: entry.stack!, project: entry.projectName! },
    async openStack() {
      stack ??= await openTenantStack({
        tenantId, environment: ctx.config.environment, platformStack: ctx.stackName, stackName: entry.stack!, root: ctx.root, migrationsDir: ctx.config.migrations.dir,
        neonApiKey: ctx.config.database.backend === "neon" ? process.env.NEON_API_KEY ?? (await ctx.stack.getConfig("bloom:neonApiKey")).value : undefined,
      });
      return stack;
    },
  };
}

/** Sets one tenant's isolation in the stack file (the desired state) and hands the file to the engine. */
export async function declareIsolation(ctx: StackContext, tenantId: string, isolation: "pooled" | "dedicated"): Promise<boolean> {
  const raw = readStackConfigFile(ctx.configFile)["bloom:tenants"];
  const tenants = JSON.parse(raw ?? "[]") as { id: string; isolation?: string }[];
  const t = tenants.find((x) => x.id === tenantId);
  if (!t || t.isolation === isolation) return false;
  t.isolation = isolation;
  writeStackConfigValues(ctx.configFile, { "bloom:tenants": tenants });
  await ctx.reload();
  return true;
}

/** Takes an offboarded tenant out of the stack file: its entry, its flag overrides and its budget. */
export async function removeTenantFromConfig(ctx: StackContext, tenantId: string): Promise<void> {
  const values = readStackConfigFile(ctx.configFile);
  const parse = <T>(key: string): T | undefined => (values[key] === undefined ? undefined : (JSON.parse(values[key]!) as T));
  const tenants = (parse<{ id: string }[]>("bloom:tenants") ?? []).filter((t) => t.id !== tenantId);
  const flags = parse<Record<string, { tenants?: Record<string, unknown> }>>("bloom:flags");
  for (const f of Object.values(flags ?? {})) if (f.tenants) delete f.tenants[tenantId];
  const limits = parse<{ tenants?: Record<string, unknown> }>("bloom:limits");
  if (limits?.tenants) delete limits.tenants[tenantId];
  writeStackConfigValues(ctx.configFile, { "bloom:tenants": tenants, ...(flags ? { "bloom:flags": flags } : {}), ...(limits ? { "bloom:limits": limits } : {}) });
  await ctx.reload();
}

/** `up`, after recovering a lock a killed run left on this host; says what it did. */
export async function upRecovering(stack: Stack, say: Say): Promise<UpResult> {
  for (const line of [...reapOrphanedPlugins(), ...(await recoverStaleLocks(stack))]) say(line);
  say(`stack ${stack.name}: up …`);
  const res = await stack.up({ onOutput: () => undefined });
  say(`stack ${stack.name}: ${res.summary.result} (${Object.entries(res.summary.resourceChanges ?? {}).map(([k, v]) => `${v} ${k}`).join(", ")})`);
  return res;
}

/** `up` of the tenant stack; returns its migrator URL. */
export async function upTenantStack(handle: TenantHandle, say: Say): Promise<string> {
  const res = await upRecovering(await handle.openStack(), say);
  return res.outputs.migratorDatabaseUrl!.value as string;
}

/** The migrator URL of an existing tenant stack, or a clear error when it is missing. */
export async function tenantStackUrl(handle: TenantHandle): Promise<string> {
  const stack = await handle.openStack();
  const url = (await stack.outputs()).migratorDatabaseUrl?.value as string | undefined;
  if (!url) throw new Error(`tenant stack ${handle.dedicated.stack} is missing (or was never \`up\`): the tenant has no dedicated database to move from or purge`);
  return url;
}
