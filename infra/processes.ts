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
