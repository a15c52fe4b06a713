import type { Stack } from "@pulumi/pulumi/automation";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

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
  const url = (await stack.workspace.projectSettings()).backend?.url ?? process.env.PULUMI_BACKEND_URL;
  if (!url?.startsWith("file://")) return [];
  const project = (await stack.workspace.projectSettings()).name;
  const dir = path.join(fileURLToPath(url), ".pulumi", "locks", "organization", project, stack.name);
  if (!existsSync(dir)) return [];
  const holders = readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(readFileSync(path.join(dir, f), "utf8")) as LockHolder);
  if (!holders.length) return [];
  const live = holders.filter((h) => h.hostname !== os.hostname() || isAlive(h.pid));
  if (live.length) return holders.map((h) => `stack ${stack.name} is locked by pid ${h.pid} on ${h.hostname} since ${h.timestamp}${live.includes(h) ? " (still running or on another host: left alone)" : ""}`);
  await stack.cancel();
  return holders.map((h) => `stack ${stack.name}: removed the lock of pid ${h.pid} (started ${h.timestamp}), a run killed on this host whose process is gone`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
