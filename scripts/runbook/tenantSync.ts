import { tenantStackName } from "../../infra/naming";
import path from "node:path";
import { mapSettledWithLimit } from "../../infra/concurrency";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { withClient } from "../../infra/database/sql/withClient";
import { deployIdFor, deployMigrationsToTargets, pendingMigrationNames, type MigrationTarget, type TargetOutcome } from "../../infra/migrations/deployToTargets";
import { assertLintClean } from "../../infra/migrations/lintMigrations";
import { loadMigrations, migrationsContentHash } from "../../infra/migrations/migrationSource";
import { listCatalog } from "../../infra/tenancy/move/moveJournal";
import { tenantRowCount } from "../../infra/tenancy/tenantCatalog";
import { listTenantStacks } from "../engine/tenantStack";
import type { StackSyncItem, StackSyncResult } from "../../infra/controlPlane/contract";
import type { Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";
import { tenantHandle, tenantStackUrl, upRecovering } from "./tenantStackAccess";

export interface SyncSummary {
  upped: string[];
  destroyed: string[];
  refused: string[];
  failed: string[];
}

/**
 * `bloom tenants sync`: the tenant stacks made to match the catalog. Every tenant the catalog holds as dedicated
 * gets its stack created or updated (`up`); a tenant stack no tenant needs any more is destroyed — unless its
 * database still holds that tenant's rows, which is refused and reported. Stacks run `concurrency` at a time, each
 * in its own work dir and PULUMI_HOME; a lock a killed run left on this host is removed first. Moves are not sync's
 * business: a tenant declared dedicated whose rows are still in the pool is reported, with the command that moves it.
 * The same plan and steps run on the control plane as the `syncFleet` workflow (`--workflow`).
 */
export async function syncTenantStacks(ctx: StackContext, opts: { concurrency?: number; dryRun?: boolean; say: Say }): Promise<SyncSummary> {
  const work = await planTenantSync(ctx, opts.say);
  const result: SyncSummary = { upped: [], destroyed: [], refused: [], failed: [] };
  if (opts.dryRun) return result;
  const settled = await mapSettledWithLimit(work, opts.concurrency ?? 4, async (w) => result[await syncTenantStack(ctx, w, opts.say)].push(w.stack));
  settled.forEach((s, i) => {
    if (s.status === "rejected") {
      result.failed.push(work[i]!.stack);
      opts.say(`${work[i]!.stack}: FAILED — ${(s.reason as Error).message.split("\n")[0]}`);
    }
  });
  return reportSync(result, opts.say);
}

/** The summary line; a sync with failures throws, naming them. */
export function reportSync(result: SyncSummary, say: Say): SyncSummary {
  say(`sync: ${result.upped.length} up, ${result.destroyed.length} destroyed, ${result.refused.length} refused, ${result.failed.length} failed`);
  if (result.failed.length) throw new Error(`sync failed for ${result.failed.join(", ")}: rerun \`bloom tenants sync\` (it resumes; stale locks of killed runs are removed)`);
  return result;
}

/** What a sync would do (printed as its plan), and the tenants declared dedicated whose data is still in the pool. */
export async function planTenantSync(ctx: StackContext, say: Say): Promise<StackSyncItem[]> {
  const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
  const catalog = await withClient(poolUrl, listCatalog);
  const dedicated = catalog.filter((r) => r.isolation === "dedicated" && ctx.config.tenants.some((t) => t.id === r.id));
  for (const t of ctx.config.tenants.filter((t) => t.isolation === "dedicated" && !dedicated.some((r) => r.id === t.id))) {
    say(`${t.id}: declared dedicated, but its data is in the pool — \`bloom tenants extract ${t.id}\` moves it (sync does not move data)`);
  }
  const wanted = new Map(dedicated.map((r) => [tenantStackName(ctx.config.environment, r.id), r.id]));
  const existing = await listTenantStacks(ctx.root);
  const stale = existing.filter((s) => s.startsWith(`${ctx.config.environment}-`) && !wanted.has(s));
  say(`plan: up ${[...wanted.keys()].join(", ") || "nothing"}; destroy ${stale.join(", ") || "nothing"} (if it holds no tenant rows)`);
  return [...[...wanted].map(([stack, id]) => ({ stack, tenantId: id, action: "up" as const })),
    ...stale.map((stack) => ({ stack, tenantId: stack.slice(ctx.config.environment.length + 1), action: "destroy" as const }))];
}

/** One stack's sync; idempotent, so a retry after a killed run finishes it. */
export async function syncTenantStack(ctx: StackContext, w: StackSyncItem, say: Say): Promise<StackSyncResult> {
  const handle = tenantHandle(ctx, w.tenantId, { declared: w.action === "up" });
  if (w.action === "up") {
    await upRecovering(await handle.openStack(), (l) => say(`${w.stack}: ${l}`));
    return "upped";
  }
  const url = await tenantStackUrl(handle).catch(() => undefined);
  const held = url ? await withClient(url, (c) => tenantRowCount(c, w.tenantId)) : 0;
  if (held > 0) {
    say(`${w.stack}: NOT destroyed — its database holds ${held} rows of ${w.tenantId}: return (\`bloom tenants return\`) or offboard the tenant first`);
    return "refused";
  }
  const stack = await handle.openStack();
  await stack.destroy({ onOutput: () => undefined });
  await stack.workspace.removeStack(stack.name);
  say(`${w.stack}: destroyed (no tenant rows)`);
  return "destroyed";
}

/**
 * `bloom migrate deploy --all`: the pool and every dedicated tenant's database from one command, each behind its own
 * pre-deploy snapshot, `bloom:migrations.concurrency` at a time; one summary names any failed database and its
 * snapshot. (`pulumi up` of each stack runs the same hook; this is the fleet-wide way to run it at once.) The
 * control plane runs the same per database (`deployMigrations`, `--workflow`).
 */
export async function migrateAll(ctx: StackContext, say: Say, opts: { dryRun?: boolean } = {}): Promise<TargetOutcome[]> {
  const migrations = fleetMigrations(ctx);
  const targets: MigrationTarget[] = [];
  for (const name of await migrationTargetNames(ctx)) targets.push(await migrationTarget(ctx, name)); // one stack at a time
  if (opts.dryRun) {
    for (const t of targets) {
      const { pending } = await pendingMigrationNames(t.migratorUrl, migrations);
      say(`${t.name}: ${pending.length} pending${pending.length ? ` (${pending.join(", ")})` : ""}`);
    }
    say("dry run: no snapshot taken, nothing applied");
    return [];
  }
  const outcomes = await deployWithBackend(ctx, targets, deployIdFor(migrationsContentHash(migrations)), ctx.config.migrations.concurrency, say);
  for (const o of outcomes) say(`${o.target}: ${o.applied.length} applied${o.snapshot ? ` (snapshot ${o.snapshot})` : ""}`);
  return outcomes;
}

/** The databases a fleet-wide deploy covers, by name: `pool`, then `tenant:<id>` for each dedicated tenant. */
export async function migrationTargetNames(ctx: StackContext): Promise<string[]> {
  const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
  return ["pool", ...(await withClient(poolUrl, listCatalog)).filter((x) => x.isolation === "dedicated").map((r) => `tenant:${r.id}`)];
}

/** A deploy's plan for the control plane: its snapshots' name and the databases, the pending migrations linted first. */
export async function planFleetMigrations(ctx: StackContext): Promise<{ deployId: string; targets: string[] }> {
  const migrations = fleetMigrations(ctx);
  const targets = await migrationTargetNames(ctx);
  const pending = new Set<string>();
  for (const name of targets) for (const m of (await pendingMigrationNames((await migrationTarget(ctx, name)).migratorUrl, migrations)).pending) pending.add(m);
  assertLintClean(migrations.filter((m) => pending.has(m.name))); // before any database changes, as the direct deploy does
  return { deployId: deployIdFor(migrationsContentHash(migrations)), targets };
}

/** One database's deploy behind its snapshot `deployId` (idempotent: a rerun finds the snapshot and applied rows). */
export async function deployToTarget(ctx: StackContext, name: string, deployId: string, say: Say): Promise<TargetOutcome> {
  return (await deployWithBackend(ctx, [await migrationTarget(ctx, name)], deployId, 1, say))[0]!;
}

async function migrationTarget(ctx: StackContext, name: string): Promise<MigrationTarget> {
  if (name === "pool") return { name, projectId: await ctx.output<string>("poolProjectId"), branchId: await ctx.output<string>("appBranchId"), migratorUrl: await ctx.output<string>("migratorDatabaseUrl") };
  const tenantId = name.replace(/^tenant:/, "");
  const outputs = await (await tenantHandle(ctx, tenantId).openStack()).outputs();
  if (!outputs.migratorDatabaseUrl) throw new Error(`tenant ${tenantId} is dedicated but its stack has no outputs: run \`bloom tenants sync\` first`);
  return { name, projectId: outputs.projectId!.value as string, branchId: outputs.appBranchId!.value as string, migratorUrl: outputs.migratorDatabaseUrl.value as string };
}

const fleetMigrations = (ctx: StackContext) => loadMigrations(path.resolve(REPO_ROOT, ctx.config.migrations.dir));

async function deployWithBackend(ctx: StackContext, targets: MigrationTarget[], deployId: string, concurrency: number, say: Say): Promise<TargetOutcome[]> {
  const backend = await ctx.backend();
  try {
    return await deployMigrationsToTargets(targets, { backend, migrations: fleetMigrations(ctx), deployId, snapshotTtlHours: ctx.config.migrations.snapshotTtlHours, concurrency, log: say });
  } finally {
    await backend.close();
  }
}
