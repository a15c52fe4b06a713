import type { BranchRef } from "../../infra";
import { compactStamp, hoursFromNow } from "../../infra/time";
import { NEON_MAX_BRANCH_EXPIRY_HOURS, NEON_SOURCES } from "../../infra/vendorRules/neon";
import type { StackContext } from "./stackContext";
import { confirm } from "./confirm";

/** `bloom snapshot create|list|delete`: branches of the pool taken by hand (deploys take their own). */
export type Say = (line: string) => void;

const SNAPSHOT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export async function poolBranches(ctx: StackContext): Promise<{ projectId: string; branches: BranchRef[] }> {
  const projectId = await ctx.output<string>("poolProjectId");
  const backend = await ctx.backend();
  try {
    return { projectId, branches: await backend.listBranches(projectId) };
  } finally {
    await backend.close();
  }
}

export function defaultSnapshotName(now = new Date()): string {
  return `snap-${compactStamp(now)}`;
}

export async function createSnapshot(ctx: StackContext, opts: { name?: string; from?: string; ttlHours?: number; dryRun?: boolean; say: Say }): Promise<BranchRef | undefined> {
  const name = opts.name ?? defaultSnapshotName();
  if (!SNAPSHOT_NAME.test(name)) throw new Error(`--name "${name}": use lowercase letters, digits and hyphens (<= 63), e.g. snap-pre-rls`);
  const ttlHours = opts.ttlHours ?? ctx.config.migrations.snapshotTtlHours;
  if (!Number.isInteger(ttlHours) || ttlHours < 1 || ttlHours > NEON_MAX_BRANCH_EXPIRY_HOURS) {
    throw new Error(`--ttl-hours ${opts.ttlHours}: a whole number of hours from 1 to ${NEON_MAX_BRANCH_EXPIRY_HOURS} (Neon refuses an expiry more than 30 days ahead: ${NEON_SOURCES.branchExpiration})`);
  }
  const { projectId, branches } = await poolBranches(ctx);
  const fromName = opts.from ?? ctx.config.appBranch;
  const parent = branches.find((b) => b.name === fromName);
  if (!parent) throw new Error(`--from "${fromName}": no such branch in ${projectId} (see \`bloom snapshot list\`)`);
  const existing = branches.find((b) => b.name === name);
  const expiresAt = hoursFromNow(ttlHours);
  if (existing) {
    opts.say(`snapshot ${name} already exists (created ${existing.createdAt}); nothing to do`);
    return existing;
  }
  opts.say(`${opts.dryRun ? "would create" : "creating"} snapshot ${name} of ${projectId}/${fromName}, expiring ${expiresAt}`);
  if (opts.dryRun) return undefined;
  const backend = await ctx.backend();
  try {
    const branch = await backend.ensureBranch({ projectId, name, parentBranchId: parent.branchId, expiresAt });
    opts.say(`created ${branch.name} (${branch.branchId})`);
    return branch;
  } finally {
    await backend.close();
  }
}

export async function listSnapshots(ctx: StackContext, say: Say): Promise<BranchRef[]> {
  const { projectId, branches } = await poolBranches(ctx);
  say(`branches of ${projectId} (app → ${ctx.config.appBranch}):`);
  for (const b of [...branches].sort((a, c) => a.createdAt.localeCompare(c.createdAt))) {
    const marks = [b.name === ctx.config.appBranch && "app", b.name === "main" && "main"].filter(Boolean).join(",");
    say(`  ${b.name.padEnd(40)} created ${b.createdAt}${b.expiresAt ? `  expires ${b.expiresAt}` : ""}${marks ? `  [${marks}]` : ""}`);
  }
  return branches;
}

/** Refuses to delete what a rollback needs: main, the app's branch, and the branches a rollback record names. */
export async function deleteSnapshot(ctx: StackContext, name: string, opts: { yes?: boolean; dryRun?: boolean; say: Say }): Promise<void> {
  const protectedNames = new Set(["main", ctx.config.appBranch, ctx.config.rollback?.from, ctx.config.rollback?.to, ctx.config.rollback?.preserved].filter(Boolean));
  if (protectedNames.has(name)) throw new Error(`refusing to delete "${name}": main, the app's branch and branches of the rollback in effect stay`);
  const { projectId, branches } = await poolBranches(ctx);
  const branch = branches.find((b) => b.name === name);
  if (!branch) {
    opts.say(`no branch named ${name} in ${projectId}; nothing to do`);
    return;
  }
  opts.say(`${opts.dryRun ? "would delete" : "deleting"} ${name} (${branch.branchId}) from ${projectId}`);
  if (opts.dryRun || !(await confirm(`Delete snapshot ${name}? Its data cannot be recovered.`, opts.yes ?? false))) return;
  const backend = await ctx.backend();
  try {
    await backend.deleteBranch(projectId, branch.branchId);
    opts.say(`deleted ${name}`);
  } finally {
    await backend.close();
  }
}
