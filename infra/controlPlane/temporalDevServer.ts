import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";
import { REPO_ROOT } from "../config/stackFile";
import { processAlive, runningByPidFile, stopByPidFile } from "../processes";

/**
 * The local stack's Temporal: the Temporal CLI's dev server (one process, SQLite persistence) on a loopback port,
 * its database file under `.bloom/temporal/`, so workflows and their timers outlive the server process (a restart
 * on the same file carries on). Built from the Go module proxy by `npm run setup:temporal` (pinned below).
 * Never for a non-local stack: every machine's dev server is its own namespace of one.
 */
export const TEMPORAL_CLI_VERSION = "1.5.1";
export const TEMPORAL_CLI_MODULE = "github.com/temporalio/cli";
export const TEMPORAL_CLI_DIR = path.join(REPO_ROOT, ".temporal-cli");
export const TEMPORAL_CLI = path.join(TEMPORAL_CLI_DIR, "bin", "temporal");
export const TEMPORAL_CLI_STAMP = path.join(TEMPORAL_CLI_DIR, "bin", ".version");
export const DEFAULT_TEMPORAL_PORT = 7233;
const STATE_DIR = path.join(REPO_ROOT, ".bloom", "temporal");

export interface TemporalDevServer {
  /** host:port of the frontend (gRPC). */
  address: string;
  port: number;
  dbFile: string;
  pid: number;
  started: boolean;
}

/** The dev server's port: BLOOM_TEMPORAL_PORT, or 7233. */
export const temporalPort = (): number => Number(process.env.BLOOM_TEMPORAL_PORT ?? DEFAULT_TEMPORAL_PORT);

/** The CLI `setup:temporal` built, when it is there at the pinned version. */
export function builtTemporalCli(): string | undefined {
  const built = existsSync(TEMPORAL_CLI) && existsSync(TEMPORAL_CLI_STAMP) && readFileSync(TEMPORAL_CLI_STAMP, "utf8").trim() === TEMPORAL_CLI_VERSION;
  return built ? TEMPORAL_CLI : undefined;
}

/** The built CLI, or a clear error saying how to get it. */
export function temporalCli(): string {
  const cli = builtTemporalCli();
  if (cli) return cli;
  throw new Error(`no Temporal CLI v${TEMPORAL_CLI_VERSION} at ${path.relative(REPO_ROOT, TEMPORAL_CLI)}: run \`npm run setup:temporal\` (it builds ${TEMPORAL_CLI_MODULE} from the Go module proxy, a few minutes once)`);
}

const portOpen = (port: number): Promise<boolean> => new Promise((resolve) => {
  const s = connect({ host: "127.0.0.1", port });
  s.setTimeout(1_000, () => { s.destroy(); resolve(false); });
  s.once("error", () => resolve(false));
  s.once("connect", () => { s.destroy(); resolve(true); });
});

/** The frontend answers a health check (not only accepts connections). */
function healthy(cli: string, port: number): boolean {
  const res = spawnSync(cli, ["operator", "cluster", "health", "--address", `127.0.0.1:${port}`], { encoding: "utf8", timeout: 10_000 });
  return res.status === 0 && /SERVING/.test(res.stdout);
}

const pidFile = (port: number, stateDir: string) => path.join(stateDir, `server-${port}.pid`);

/**
 * Starts the dev server on `port` with `dbFile` (default `.bloom/temporal/temporal-<port>.db`), or finds it running
 * (this checkout's, by its pid file). Detached: it outlives the command that started it, as the other local
 * services do; `stopTemporalDevServer` (and `npm run local -- stop`) end it.
 */
export async function ensureTemporalDevServer(opts: { port?: number; dbFile?: string; stateDir?: string; log?: (m: string) => void } = {}): Promise<TemporalDevServer> {
  const port = opts.port ?? temporalPort();
  const stateDir = opts.stateDir ?? STATE_DIR;
  const dbFile = opts.dbFile ?? path.join(stateDir, `temporal-${port}.db`);
  const cli = temporalCli();
  mkdirSync(stateDir, { recursive: true });
  const known = existsSync(pidFile(port, stateDir)) ? Number(readFileSync(pidFile(port, stateDir), "utf8")) : 0;
  if (await portOpen(port)) {
    if (known && processAlive(known) && healthy(cli, port)) return { address: `127.0.0.1:${port}`, port, dbFile, pid: known, started: false };
    throw new Error(`127.0.0.1:${port} is taken by something other than this checkout's Temporal dev server: stop it, or set BLOOM_TEMPORAL_PORT to a free port`);
  }
  const logFd = openSync(path.join(stateDir, `server-${port}.log`), "a");
  // The UI is off (--headless) and everything binds to loopback; the frontend's HTTP port is the next one up.
  const child = spawn(cli, ["server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", String(port), "--http-port", String(port + 1), "--db-filename", dbFile, "--log-level", "warn"], { detached: true, stdio: ["ignore", logFd, logFd] });
  child.unref();
  writeFileSync(pidFile(port, stateDir), String(child.pid));
  for (let i = 0; i < 120; i++) {
    if (!processAlive(child.pid!)) break;
    if ((await portOpen(port)) && healthy(cli, port)) {
      opts.log?.(`started the Temporal dev server on 127.0.0.1:${port} (history in ${path.relative(REPO_ROOT, dbFile)})`);
      return { address: `127.0.0.1:${port}`, port, dbFile, pid: child.pid!, started: true };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the Temporal dev server did not come up on 127.0.0.1:${port}; see ${path.join(stateDir, `server-${port}.log`)}`);
}

/** Ends this checkout's dev server on `port` (SIGTERM; `kill: true` for SIGKILL, as a crash would). */
export function stopTemporalDevServer(opts: { port?: number; stateDir?: string; kill?: boolean } = {}): boolean {
  return stopByPidFile(pidFile(opts.port ?? temporalPort(), opts.stateDir ?? STATE_DIR), opts);
}

/** Whether this checkout's dev server on `port` is running (for `npm run local -- stop`). */
export function temporalDevServerRunning(opts: { port?: number; stateDir?: string } = {}): boolean {
  return runningByPidFile(pidFile(opts.port ?? temporalPort(), opts.stateDir ?? STATE_DIR));
}
