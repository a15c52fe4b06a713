import type { UpResult } from "@pulumi/pulumi/automation";
import { writeStackConfigValues } from "../../infra/config/stackFile";
import { expiryAfterRollback } from "../../infra/database/snapshotExpiry";
import { compactStamp, isoSeconds } from "../../infra/time";
import { confirm } from "./confirm";
import { poolBranches, type Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";

/**
 * `bloom rollback --to <snapshot> [--restore]` and `bloom rollback --undo`.
 *  - repoint (default): bloom:appBranch names the snapshot; `up` moves every published connection to it. The
 *    old branch is untouched, so undo is one more repoint.
 *  - restore: the app's branch takes the snapshot's data (Neon branch restore); its old state is kept under a
 *    preserve name, and undo restores from that.
 * Either way the stack file records the rollback (bloom:rollback), migrations pause until it is undone, and
 * nothing is changed before the plan has been shown and confirmed. A repoint first clears the snapshot's expiry
 * (Neon would delete the branch the app now uses, computes and all); the undo gives it back (expiryAfterRollback).
 */
export interface RollbackOptions {
  yes?: boolean;
  dryRun?: boolean;
  say: Say;
}


export async function rollbackTo(ctx: StackContext, snapshot: string, opts: RollbackOptions & { restore?: boolean }): Promise<UpResult | undefined> {
  const current = ctx.config.rollback;
  if (current) throw new Error(`a rollback to ${current.to} (${current.mode}) is in effect since ${current.at}: run \`bloom rollback --undo\` first`);
  const { projectId, branches } = await poolBranches(ctx);
  const target = branches.find((b) => b.name === snapshot);
  if (!target) throw new Error(`--to "${snapshot}": no such branch in ${projectId}; see \`bloom snapshot list\``);
  if (snapshot === ctx.config.appBranch) throw new Error(`the app already uses ${snapshot}`);
  const from = ctx.config.appBranch;

  if (opts.restore) {
    const preserved = `${from}-before-${compactStamp()}`.slice(0, 63);
    opts.say(`plan: branch ${from} of ${projectId} takes the data of ${snapshot}; its current state is kept as ${preserved}.`);
    opts.say("open sessions on the branch are dropped during the restore; connection strings stay the same.");
    if (opts.dryRun || !(await confirm(`Restore ${from} from ${snapshot}?`, opts.yes ?? false))) return undefined;
    await restore(ctx, projectId, branches, from, snapshot, preserved);
    return applyRecord(ctx, { "bloom:rollback": { mode: "restore", from, to: snapshot, at: isoSeconds(), preserved } }, opts.say);
  }

  if (target.expiresAt) opts.say(`the snapshot expires ${target.expiresAt}: its expiry is cleared before the app uses it, and given back by --undo.`);
  const record = { mode: "repoint", from, to: snapshot, at: isoSeconds(), ...(target.expiresAt ? { snapshotExpiresAt: target.expiresAt } : {}) };
  return repoint(ctx, { "bloom:appBranch": snapshot, "bloom:rollback": record }, `Point the app at ${snapshot} (from ${from})?`, opts, async () => {
    if (target.expiresAt) await withBackend(ctx, (b) => b.setBranchExpiry(projectId, target.branchId, null));
  });
}

export async function undoRollback(ctx: StackContext, opts: RollbackOptions): Promise<UpResult | undefined> {
  const record = ctx.config.rollback;
  if (!record) throw new Error("no rollback is in effect (bloom:rollback is not set in the stack file)");
  if (record.mode === "repoint") {
    const expiry = expiryAfterRollback(record.snapshotExpiresAt, ctx.config.migrations.snapshotTtlHours);
    if (expiry) opts.say(`${record.to} gets an expiry again once the app has left it: ${expiry}.`);
    const result = await repoint(ctx, { "bloom:appBranch": record.from, "bloom:rollback": undefined }, `Point the app back at ${record.from} (from ${record.to})?`, opts);
    if (result && expiry) {
      const { projectId, branches } = await poolBranches(ctx);
      const snap = branches.find((b) => b.name === record.to);
      if (snap) await withBackend(ctx, (b) => b.setBranchExpiry(projectId, snap.branchId, expiry));
    }
    return result;
  }
  const { projectId, branches } = await poolBranches(ctx);
  const undone = `${record.from}-undone-${compactStamp()}`.slice(0, 63);
  opts.say(`plan: branch ${record.from} takes back the data kept in ${record.preserved}; the restored state is kept as ${undone}.`);
  if (opts.dryRun || !(await confirm(`Undo the restore of ${record.from}?`, opts.yes ?? false))) return undefined;
  await restore(ctx, projectId, branches, record.from, record.preserved!, undone);
  return applyRecord(ctx, { "bloom:rollback": undefined }, opts.say);
}

/**
 * Shows what `up` would change with the new values, asks, then writes the stack file and runs `up`; `beforeUp`
 * runs once confirmed, before anything else changes.
 */
export async function repoint(ctx: StackContext, values: Record<string, unknown>, question: string, opts: RollbackOptions, beforeUp?: () => Promise<void>): Promise<UpResult | undefined> {
  const before = { "bloom:appBranch": ctx.config.appBranch, "bloom:rollback": ctx.config.rollback };
  writeStackConfigValues(ctx.configFile, values);
  let confirmed = false;
  try {
    await ctx.reload();
    const preview = await ctx.stack.preview();
    const changes = Object.entries(preview.changeSummary).filter(([op]) => op !== "same").map(([op, n]) => `${n} to ${op}`);
    opts.say(`plan: ${changes.join(", ") || "no resource changes"}; appDatabaseUrl and migratorDatabaseUrl will point at ${String(values["bloom:appBranch"])}.`);
    confirmed = !opts.dryRun && (await confirm(question, opts.yes ?? false));
  } finally {
    // Dry run, declined, or the preview failed: the stack file goes back to what it said.
    if (!confirmed) await revert(ctx, before);
  }
  if (!confirmed) return undefined;
  try {
    await beforeUp?.();
  } catch (err) {
    await revert(ctx, before);
    throw err;
  }
  try {
    const result = await ctx.stack.up();
    opts.say(`done: the app now uses ${String(values["bloom:appBranch"])} (${result.summary.result})`);
    return result;
  } catch (err) {
    // The file keeps the intended state: rerunning `up` finishes the move, `bloom rollback --undo` reverses it.
    throw new Error(`up failed while repointing; the stack file already says appBranch=${String(values["bloom:appBranch"])}. Rerun \`npm run local -- up --stack ${ctx.stackName}\` or \`bloom rollback --undo\`: ${(err as Error).message}`);
  }
}

async function revert(ctx: StackContext, before: Record<string, unknown>): Promise<void> {
  writeStackConfigValues(ctx.configFile, before);
  await ctx.reload();
}

export async function withBackend<T>(ctx: StackContext, work: (b: Awaited<ReturnType<StackContext["backend"]>>) => Promise<T>): Promise<T> {
  const backend = await ctx.backend();
  try {
    return await work(backend);
  } finally {
    await backend.close();
  }
}

async function restore(ctx: StackContext, projectId: string, branches: { name: string; branchId: string }[], into: string, source: string, preserveUnderName: string): Promise<void> {
  const target = branches.find((b) => b.name === into);
  const from = branches.find((b) => b.name === source);
  if (!target || !from) throw new Error(`restore needs branches ${into} and ${source} in ${projectId}`);
  await withBackend(ctx, (b) => b.restoreBranch({ projectId, branchId: target.branchId, sourceBranchId: from.branchId, preserveUnderName }));
}

async function applyRecord(ctx: StackContext, values: Record<string, unknown>, say: Say): Promise<UpResult> {
  writeStackConfigValues(ctx.configFile, values);
  await ctx.reload();
  const result = await ctx.stack.up();
  say(`done (${result.summary.result})`);
  return result;
}
