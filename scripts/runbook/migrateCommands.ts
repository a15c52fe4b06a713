import path from "node:path";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { applyPendingMigrations, resolveMigration } from "../../infra/migrations/applyPendingMigrations";
import { pendingMigrationNames } from "../../infra/migrations/deployToTargets";
import { loadMigrations } from "../../infra/migrations/migrationSource";
import type { Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";

/** The stack's migrations folder, as its deploy hook reads it. */
export async function stackMigrations(ctx: StackContext) {
  return loadMigrations(path.resolve(REPO_ROOT, ctx.config.migrations.dir));
}

/** `bloom migrate status|resolve` on the stack's app branch, through the migrator's published connection. */
export async function migrateStatus(ctx: StackContext, say: Say): Promise<{ pending: string[]; failed: string[] }> {
  const url = await ctx.output<string>("migratorDatabaseUrl");
  const state = await pendingMigrationNames(url, await stackMigrations(ctx));
  say(`${ctx.stackName} (${ctx.config.appBranch}): ${state.pending.length} pending${state.pending.length ? `: ${state.pending.join(", ")}` : ""}`);
  if (state.failed.length) say(`failed (blocks deploys until resolved): ${state.failed.join(", ")}`);
  return state;
}

export async function migrateResolve(ctx: StackContext, name: string, as: "rolled-back" | "applied", say: Say): Promise<void> {
  await resolveMigration(await ctx.output<string>("migratorDatabaseUrl"), name, as, await stackMigrations(ctx));
  say(`marked ${name} as ${as} on ${ctx.stackName} (${ctx.config.appBranch})`);
}

/**
 * Applies pending migrations without the deploy hook's snapshot: for break-glass use; `up` is the normal path.
 * A dry run names what would be applied and changes nothing.
 */
export async function migrateDeploy(ctx: StackContext, say: Say, opts: { dryRun?: boolean } = {}): Promise<string[]> {
  if (opts.dryRun) {
    await migrateStatus(ctx, say);
    say("dry run: nothing applied");
    return [];
  }
  const res = await applyPendingMigrations(await ctx.output<string>("migratorDatabaseUrl"), await stackMigrations(ctx), { database: `${ctx.stackName}/${ctx.config.appBranch}`, log: say });
  res.warnings.forEach((w) => say(`warning: ${w}`));
  return res.applied;
}
