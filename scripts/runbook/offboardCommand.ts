import path from "node:path";
import { currentActor } from "../../infra/kv/flagStore";
import { withClient } from "../../infra/database/sql/withClient";
import { readCatalogRow } from "../../infra/tenancy/move/moveJournal";
import { offboardTenant, type ErasureEvidence, type RemainingCopy } from "../../infra/tenancy/offboard/offboardTenant";
import { parseExportKey, verifyExport } from "../../infra/tenancy/offboard/tenantExport";
import { isoSeconds } from "../../infra/time";
import { confirm } from "./confirm";
import { poolBranches, type Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";
import { tenantRowPlan } from "./tenantCommands";
import { removeTenantFromConfig, tenantHandle, tenantStackUrl, upRecovering } from "./tenantStackAccess";

/**
 * `bloom tenants offboard <id> --export <dir>`: export (encrypted; key in BLOOM_EXPORT_KEY), verify, erase from
 * every live database, record the evidence; then the tenant leaves the stack file and `up` removes what the
 * platform made for it (catalog row, DNS record, budget), and a dedicated tenant's stack is destroyed.
 * `bloom tenants verify-export <dir>` checks an export against its manifest with the same key.
 */
export async function offboardCommand(ctx: StackContext, tenantId: string, opts: { exportDir?: string; yes?: boolean; dryRun?: boolean; say: Say }): Promise<ErasureEvidence | undefined> {
  const handle = tenantHandle(ctx, tenantId);
  if (!opts.exportDir) throw new Error("--export <dir> is required: offboarding exports the tenant's data (encrypted) before erasing it");
  const key = parseExportKey(process.env.BLOOM_EXPORT_KEY);
  const exportDir = path.resolve(opts.exportDir);
  const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
  const row = await withClient(poolUrl, (c) => readCatalogRow(c, tenantId));
  if (!row) throw new Error(`unknown tenant "${tenantId}": it is not in the pool's catalog (run \`pulumi up\` first)`);
  const homeUrl = row.location.kind === "pool" ? poolUrl : await tenantStackUrl(handle);
  const plan = await tenantRowPlan(homeUrl, tenantId);
  const remaining = await remainingCopies(ctx);
  opts.say(`plan: offboard ${tenantId} (${row.location.kind === "pool" ? "pool" : row.location.stack}): fence, export ${plan.reduce((n, t) => n + t.rows, 0)} rows to ${exportDir} (encrypted, key id from BLOOM_EXPORT_KEY), verify, erase${row.pendingPurge ? " (and the old copy of its last move)" : ""}, record the evidence; then remove it from ${ctx.configFile} and \`up\``);
  for (const c of remaining) opts.say(`  copy that remains: ${c.where} — ${c.until ? `until ${c.until}` : "no expiry"} (${c.note})`);
  if (opts.dryRun || !(await confirm(`Erase tenant ${tenantId} after exporting it?`, opts.yes ?? false))) return undefined;

  const evidence = await offboardTenant({
    tenantId, poolUrl, exportDir, key, actor: currentActor(), log: opts.say,
    dedicatedUrl: () => tenantStackUrl(handle).catch(() => undefined),
    copiesRemaining: async () => remaining,
  });
  for (const d of evidence.databases) opts.say(`erased from ${d.location.kind === "pool" ? "the pool" : d.location.stack} (${d.role}): ${Object.values(d.deleted).reduce((a, b) => a + b, 0)} rows; ${d.rowsRemaining} remain`);
  await removeTenantFromConfig(ctx, tenantId);
  opts.say(`${ctx.configFile}: ${tenantId} removed (its entry, flag overrides, budget)`);
  await upRecovering(ctx.stack, opts.say);
  if (row.location.kind === "dedicated" || row.pendingPurge?.location.kind === "dedicated") {
    const stack = await handle.openStack();
    await stack.destroy({ onOutput: () => undefined });
    await stack.workspace.removeStack(stack.name);
    opts.say(`tenant stack ${stack.name} destroyed`);
  }
  opts.say(`erasure evidence: ${path.join(exportDir, "erasure-evidence.json")} and bloom_platform.erasure_log`);
  return evidence;
}

export async function verifyExportCommand(dir: string, say: Say): Promise<void> {
  const problems = await verifyExport(path.resolve(dir), parseExportKey(process.env.BLOOM_EXPORT_KEY));
  if (problems.length) throw new Error(`the export in ${dir} does not verify:\n  ${problems.join("\n  ")}`);
  say(`the export in ${dir} verifies: every file decrypts to its manifest checksum`);
}

/** Where copies of the tenant's data remain after erasure, and until when (for the evidence). */
async function remainingCopies(ctx: StackContext): Promise<RemainingCopy[]> {
  const { projectId, branches } = await poolBranches(ctx);
  const out: RemainingCopy[] = branches.filter((b) => b.name !== ctx.config.appBranch && b.name !== "main").map((b) => ({
    where: `branch ${b.name} of ${projectId} (a pre-deploy snapshot or a preserved rollback branch)`,
    until: b.expiresAt ?? null,
    note: b.expiresAt ? "deleted when it expires" : `kept until deleted: \`bloom snapshot delete ${b.name}\``,
  }));
  const retention = ctx.config.database.neon?.historyRetentionSeconds;
  if (ctx.config.database.backend === "neon") {
    out.push({ where: `Neon's point-in-time history of ${projectId}`, until: isoSeconds(new Date(Date.now() + (retention ?? 86_400) * 1000)), note: "the history window; branches made from a time before the erasure would still hold it" });
  }
  return out;
}
