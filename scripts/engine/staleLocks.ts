import type { Stack } from "@pulumi/pulumi/automation";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { processAlive } from "../../infra/processes";

/**
 * A `pulumi up` killed with -9 on the file backend leaves its lock (`.pulumi/locks/<org>/<project>/<stack>/*.json`,
 * holding pid, user, host, time), and the next run refuses until `pulumi cancel`. That is safe to do by ourselves
 * only when the holder is provably gone: it ran on this host and its pid no longer exists. A lock held by a live
 * process, or by another host, is left alone (the run then fails with the engine's own message).
 * Returns what it did, one line per lock.
 */
interface LockHolder {
  pid: number;
  username: string;
  hostname: string;
  timestamp: string;
}

export async function recoverStaleLocks(stack: Stack): Promise<string[]> {
  const settings = await stack.workspace.projectSettings();
  const url = settings.backend?.url ?? process.env.PULUMI_BACKEND_URL;
  if (!url?.startsWith("file://")) return [];
  const project = settings.name;
  const dir = path.join(fileURLToPath(url), ".pulumi", "locks", "organization", project, stack.name);
  if (!existsSync(dir)) return [];
  const holders = readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(readFileSync(path.join(dir, f), "utf8")) as LockHolder);
  if (!holders.length) return [];
  const live = holders.filter((h) => h.hostname !== os.hostname() || processAlive(h.pid));
  if (live.length) return holders.map((h) => `stack ${stack.name} is locked by pid ${h.pid} on ${h.hostname} since ${h.timestamp}${live.includes(h) ? " (still running or on another host: left alone)" : ""}`);
  await stack.cancel();
  return holders.map((h) => `stack ${stack.name}: removed the lock of pid ${h.pid} (started ${h.timestamp}), a run killed on this host whose process is gone`);
}

/**
 * A killed engine also leaves its plugins running: Pulumi starts each (policy pack, dynamic provider) in its own
 * process group, so they outlive a kill of the engine and of the runbook's group — measured here: ~130 MB each,
 * listening forever. A plugin of this checkout (its command line names this checkout's engine folder or
 * node_modules/@pulumi) whose parent is no longer a `pulumi` engine is an orphan: its process group is ended.
 * Linux (/proc) only; elsewhere nothing is done.
 */
export function reapOrphanedPlugins(repoRoot = REPO_ROOT): string[] {
  const reaped: string[] = [];
  for (const { pid, plugin } of findOrphanedPlugins(repoRoot)) {
    try {
      process.kill(-pid, "SIGKILL"); // its group: a shell wrapper and the node process it started
      reaped.push(`ended the orphaned ${plugin} plugin (pid ${pid}) of a killed engine run`);
    } catch {
      // not a group leader, or already gone
    }
  }
  return reaped;
}

/** The orphaned plugin processes of this checkout (see reapOrphanedPlugins). */
export function findOrphanedPlugins(repoRoot = REPO_ROOT): { pid: number; plugin: string }[] {
  if (!existsSync("/proc/self/stat")) return [];
  const ours = [path.join(repoRoot, ".pulumi-engine", "bin", "pulumi-"), path.join(repoRoot, "node_modules", "@pulumi", "pulumi", "cmd", "")];
  const found: { pid: number; plugin: string }[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number)) {
    const mine = procArgs(pid).find((a) => ours.some((prefix) => a.startsWith(prefix)));
    if (!mine || pid === process.pid) continue;
    const parent = procParent(pid);
    if (parent === undefined || path.basename(procArgs(parent)[0] ?? "") === "pulumi") continue;
    found.push({ pid, plugin: mine.includes("run-policy-pack") ? "policy-pack" : path.basename(mine) });
  }
  return found;
}

function procArgs(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

function procParent(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}
