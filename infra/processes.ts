import { existsSync, readFileSync, rmSync } from "node:fs";

/**
 * Whether a process of this machine still runs: signal 0 checks without sending. EPERM means it runs as another
 * user. A pid of 0 or less would address a process group (our own, with 0), so it is never alive.
 */
export function processAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid a detached local service wrote to `file` (on `line`: Postgres's postmaster.pid has more), or 0. */
export const pidInFile = (file: string, line = 0): number => (existsSync(file) ? Number(readFileSync(file, "utf8").split("\n")[line]) || 0 : 0);

/** Whether the service whose pid is in `file` runs. */
export const runningByPidFile = (file: string): boolean => processAlive(pidInFile(file));

/** Ends the service whose pid is in `file` (SIGTERM, or SIGKILL as a crash would) and forgets it; false if none ran. */
export function stopByPidFile(file: string, opts: { kill?: boolean } = {}): boolean {
  const pid = pidInFile(file);
  rmSync(file, { force: true });
  if (!processAlive(pid)) return false;
  process.kill(pid, opts.kill ? "SIGKILL" : "SIGTERM");
  return true;
}
