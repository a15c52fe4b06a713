import { tenantStackName } from "../../infra/naming";
import path from "node:path";
import { mapSettledWithLimit } from "../../infra/concurrency";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { withClient } from "../../infra/database/sql/withClient";
import { deployIdFor, deployMigrationsToTargets, type MigrationTarget, type TargetOutcome } from "../../infra/migrations/deployToTargets";
import { loadMigrations, migrationsContentHash } from "../../infra/migrations/migrationSource";
import { listCatalog } from "../../infra/tenancy/move/moveJournal";
import { tenantRowCount } from "../../infra/tenancy/tenantCatalog";
import { listTenantStacks } from "../engine/tenantStack";
import type { Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";
import { tenantHandle, tenantStackUrl, upRecovering } from "./tenantStackAccess";

/**
 * `bloom tenants sync`: the tenant stacks made to match the catalog. Every tenant the catalog holds as dedicated
 * gets its stack created or updated (`up`); a tenant stack no tenant needs any more is destroyed — unless its
 * database still holds that tenant's rows, which is refused and reported. Stacks run `concurrency` at a time, each
 * in its own work dir and PULUMI_HOME; a lock a killed run left on this host is removed first. Moves are not sync's
 * business: a tenant declared dedicated whose rows are still in the pool is reported, with the command that moves it.
 */
export async function syncTenantStacks(ctx: StackContext, opts: { concurrency?: number; dryRun?: boolean; say: Say }): Promise<{ upped: string[]; destroyed: string[]; refused: string[]; failed: string[] }> {
  const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
  const catalog = await withClient(poolUrl, listCatalog);
  const dedicated = catalog.filter((r) => r.isolation === "dedicated" && ctx.config.tenants.some((t) => t.id === r.id));
  for (const t of ctx.config.tenants.filter((t) => t.isolation === "dedicated" && !dedicated.some((r) => r.id === t.id))) {
    opts.say(`${t.id}: declared dedicated, but its data is in the pool — \`bloom tenants extract ${t.id}\` moves it (sync does not move data)`);
  }
  const wanted = new Map(dedicated.map((r) => [tenantStackName(ctx.config.environment, r.id), r.id]));
  const existing = await listTenantStacks(ctx.root);
  const stale = existing.filter((s) => s.startsWith(`${ctx.config.environment}-`) && !wanted.has(s));
  opts.say(`plan: up ${[...wanted.keys()].join(", ") || "nothing"}; destroy ${stale.join(", ") || "nothing"} (if it holds no tenant rows)`);
  const result = { upped: [] as string[], destroyed: [] as string[], refused: [] as string[], failed: [] as string[] };
  if (opts.dryRun) return result;

  const work = [...[...wanted].map(([stack, id]) => ({ stack, id, action: "up" as const })), ...stale.map((stack) => ({ stack, id: stack.slice(ctx.config.environment.length + 1), action: "destroy" as const }))];
  const settled = await mapSettledWithLimit(work, opts.concurrency ?? 4, async (w) => {
    const handle = tenantHandle(ctx, w.id, { declared: w.action === "up" });
    if (w.action === "up") {
      await upRecovering(await handle.openStack(), (l) => opts.say(`${w.stack}: ${l}`));
      result.upped.push(w.stack);
      return;
    }
    const url = await tenantStackUrl(handle).catch(() => undefined);
    const held = url ? await withClient(url, (c) => tenantRowCount(c, w.id)) : 0;
    if (held > 0) {
      result.refused.push(w.stack);
      opts.say(`${w.stack}: NOT destroyed — its database holds ${held} rows of ${w.id}: return (\`bloom tenants return\`) or offboard the tenant first`);
      return;
    }
    const stack = await handle.openStack();
    await stack.destroy({ onOutput: () => undefined });
    await stack.workspace.removeStack(stack.name);
    result.destroyed.push(w.stack);
    opts.say(`${w.stack}: destroyed (no tenant rows)`);
  });
  settled.forEach((s, i) => {
    if (s.status === "rejected") {
      result.failed.push(work[i]!.stack);
      opts.say(`${work[i]!.stack}: FAILED — ${(s.reason as Error).message.split("\n")[0]}`);
    }
  });
  opts.say(`sync: ${result.upped.length} up, ${result.destroyed.length} destroyed, ${result.refused.length} refused, ${result.failed.length} failed`);
  if (result.failed.length) throw new Error(`sync failed for ${result.failed.join(", ")}: rerun \`bloom tenants sync\` (it resumes; stale locks of killed runs are removed)`);
  return result;
}

/**
 * `bloom migrate deploy --all`: the pool and every dedicated tenant's database from one command, each behind its own
 * pre-deploy snapshot, `bloom:migrations.concurrency` at a time; one summary names any failed database and its
 * snapshot. (`pulumi up` of each stack runs the same hook; this is the fleet-wide way to run it at once.)
 */
export async function migrateAll(ctx: StackContext, say: Say): Promise<TargetOutcome[]> {
  const migrations = loadMigrations(path.resolve(REPO_ROOT, ctx.config.migrations.dir));
  const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
  const targets: MigrationTarget[] = [{ name: "pool", projectId: await ctx.output<string>("poolProjectId"), branchId: await ctx.output<string>("appBranchId"), migratorUrl: poolUrl }];
  for (const r of (await withClient(poolUrl, listCatalog)).filter((x) => x.isolation === "dedicated")) {
    const outputs = await (await tenantHandle(ctx, r.id).openStack()).outputs();
    if (!outputs.migratorDatabaseUrl) throw new Error(`tenant ${r.id} is dedicated but its stack has no outputs: run \`bloom tenants sync\` first`);
    targets.push({ name: `tenant:${r.id}`, projectId: outputs.projectId!.value as string, branchId: outputs.appBranchId!.value as string, migratorUrl: outputs.migratorDatabaseUrl.value as string });
  }
  const backend = await ctx.backend();
  try {
    const outcomes = await deployMigrationsToTargets(targets, {
      backend, migrations, deployId: deployIdFor(migrationsContentHash(migrations)), snapshotTtlHours: ctx.config.migrations.snapshotTtlHours,
      concurrency: ctx.config.migrations.concurrency, log: say,
    });
    for (const o of outcomes) say(`${o.target}: ${o.applied.length} applied${o.snapshot ? ` (snapshot ${o.snapshot})` : ""}`);
    return outcomes;
  } finally {
    await backend.close();
  }
}
