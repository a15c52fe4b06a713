import { applyTenancyModeFromStore } from "../../infra/tenancy/modeFromStore";
import { storeAccess } from "./flagCommands";
import { getTenancyMode, relaxRowLevelSecurity, restoreRowLevelSecurity, tenantlessAccessCounts, type TenancyMode } from "../../infra/tenancy/rlsModes";
import { confirm } from "./confirm";
import type { Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";

/** `bloom tenancy status|sync|relax|restore` on the stack's app branch (docs/runbooks/enforcement.md). */
export async function tenancyStatus(ctx: StackContext, say: Say): Promise<TenancyMode> {
  const url = await ctx.output<string>("migratorDatabaseUrl");
  const mode = await getTenancyMode(url);
  say(`${ctx.stackName}: RLS mode ${mode}`);
  const counts = await tenantlessAccessCounts(url);
  for (const [table, hits] of Object.entries(counts)) say(`  tenant-less access to ${table}: ${hits} transaction(s)`);
  return mode;
}

/**
 * Makes the database follow tenancy_enabled as the flag store holds it now (after `flags set` or `flags kill`):
 * the same writer `pulumi up` uses (infra/tenancy/modeFromStore), so the two never disagree.
 */
export async function syncTenancyMode(ctx: StackContext, say: Say): Promise<TenancyMode> {
  const [store, url] = await Promise.all([storeAccess(ctx), ctx.output<string>("migratorDatabaseUrl")]);
  const { mode, previous } = await applyTenancyModeFromStore(store, [url]);
  say(previous[0] === mode ? `RLS mode already ${mode}` : `RLS mode ${previous[0]} → ${mode}`);
  return mode;
}

export async function relaxTenancy(ctx: StackContext, opts: { yes?: boolean; dryRun?: boolean; say: Say }): Promise<void> {
  opts.say(`${opts.dryRun ? "would disable" : "disabling"} row-level security on every tenant table of ${ctx.stackName} (policies stay, inert): all rows become visible to the app`);
  if (opts.dryRun || !(await confirm("Relax row-level security?", opts.yes ?? false))) return;
  const res = await relaxRowLevelSecurity(await ctx.output<string>("migratorDatabaseUrl"));
  opts.say(`relaxed ${res.tables.length} tables (${res.policies} policies left in place). Also turn the flag off: \`bloom flags set tenancy_enabled false\``);
}

export async function restoreTenancy(ctx: StackContext, opts: { yes?: boolean; dryRun?: boolean; say: Say }): Promise<void> {
  opts.say(`${opts.dryRun ? "would re-create" : "re-creating"} the tenant policies of ${ctx.stackName} from code (dropping any other policy on a tenant table) and ENABLE + FORCE RLS`);
  if (opts.dryRun || !(await confirm("Restore row-level security?", opts.yes ?? false))) return;
  const res = await restoreRowLevelSecurity(await ctx.output<string>("migratorDatabaseUrl"));
  opts.say(`re-created ${res.policies} policies on ${res.tables.length} tables`);
}
