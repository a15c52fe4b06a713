import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../infra/config/stackFile";
import type { ControlPlaneEndpoint } from "../../infra/controlPlane/endpoint";
import { pidInFile, processAlive, runningByPidFile, stopByPidFile } from "../../infra/processes";

/**
 * The local stack's worker: one `bloom worker` process per dev server, detached like the other local services, so
 * a timer that fires in a week finds a worker on this machine without anyone starting one (the embedded default).
 * `npm run local -- stop` ends it. Production runs its workers as their own service instead.
 */
const STATE_DIR = path.join(REPO_ROOT, ".bloom", "temporal");
const portOf = (endpoint: ControlPlaneEndpoint) => endpoint.address.split(":").pop()!;
const pidFile = (port: string) => path.join(STATE_DIR, `worker-${port}.pid`);
export const localWorkerLog = (endpoint: ControlPlaneEndpoint) => path.join(STATE_DIR, `worker-${portOf(endpoint)}.log`);

export async function ensureLocalWorker(endpoint: ControlPlaneEndpoint, log: (line: string) => void = () => undefined): Promise<{ pid: number; started: boolean }> {
  if (!endpoint.local) throw new Error("a local worker serves this machine's dev server only");
  mkdirSync(STATE_DIR, { recursive: true });
  const file = pidFile(portOf(endpoint));
  const known = pidInFile(file);
  if (processAlive(known)) return { pid: known, started: false };
  const logFile = localWorkerLog(endpoint);
  const before = existsSync(logFile) ? readFileSync(logFile, "utf8").length : 0;
  const fd = openSync(logFile, "a");
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "scripts", "bloom.ts"), "worker", "--address", endpoint.address, "--namespace", endpoint.namespace],
    { cwd: REPO_ROOT, detached: true, stdio: ["ignore", fd, fd] });
  child.unref();
  writeFileSync(file, String(child.pid));
  for (let i = 0; i < 240; i++) {
    if (!processAlive(child.pid!)) break;
    if (/worker polling/.test(readFileSync(logFile, "utf8").slice(before))) {
      log(`started the local control-plane worker (pid ${child.pid}, log ${path.relative(REPO_ROOT, logFile)})`);
      return { pid: child.pid!, started: true };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the local control-plane worker did not start; see ${logFile}`);
}

/** Ends the local worker of the dev server on `port` (SIGTERM: it finishes its activities first; `kill` for -9). */
export const stopLocalWorker = (port: number, opts: { kill?: boolean } = {}): boolean => stopByPidFile(pidFile(String(port)), opts);

export const localWorkerRunning = (port: number): boolean => runningByPidFile(pidFile(String(port)));
