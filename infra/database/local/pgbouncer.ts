import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";
import { chownTree, serverUser } from "./embeddedPostgres";

/**
 * PgBouncer in transaction-pooling mode in front of a local Postgres: the local stack's pooled app URL goes
 * through it, as Neon's pooled endpoint does, so the app path meets the same rule there and here — a server
 * connection serves many clients, one transaction at a time, and nothing set per session survives a transaction.
 * Clients authenticate with SCRAM against the server's own secrets (auth_query as the server's superuser), so a
 * pooler never knows a password the server does not. Debian's pgbouncer (1.18) has no named prepared statements
 * in transaction mode; `pg` uses unnamed ones by default.
 */
// Not 6432: Debian's own pgbouncer service takes that port where systemd starts it.
export const DEFAULT_POOLER_PORT = 6435;

export interface RunningPooler {
  host: string;
  port: number;
  stateDir: string;
}

export function pgbouncerBinary(): string {
  for (const candidate of ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]) if (existsSync(candidate)) return candidate;
  const which = spawnSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error("pgbouncer is not installed: `apt-get update && apt-get install -y pgbouncer` (npm run setup:local does this when run as root)");
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => done(true));
  });
}

export function poolerConfig(serverUrl: string, port: number, stateDir: string): string {
  const server = new URL(serverUrl);
  const superuser = decodeURIComponent(server.username || "postgres");
  return [
    "; written by bloom-platform (infra/database/local/pgbouncer.ts); rewritten on every start",
    "[databases]",
    `* = host=${server.hostname} port=${server.port || 5432}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "pool_mode = transaction",
    "auth_type = scram-sha-256",
    `auth_file = ${path.join(stateDir, "userlist.txt")}`,
    `auth_user = ${superuser}`,
    "auth_query = SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = $1",
    "max_client_conn = 1000",
    "default_pool_size = 20",
    "server_reset_query =",
    "ignore_startup_parameters = extra_float_digits",
    `pidfile = ${path.join(stateDir, "pgbouncer.pid")}`,
    `logfile = ${path.join(stateDir, "pgbouncer.log")}`,
    "",
  ].join("\n");
}

/**
 * Idempotent: a pooler already answering on the port is used as it is (it is this checkout's, or one the
 * operator runs); otherwise one is started as a daemon with its files in `stateDir` and left running for the next
 * short-lived command (`npm run local -- stop` ends it).
 */
export async function ensurePooler(serverUrl: string, port: number, stateDir: string): Promise<RunningPooler> {
  const ini = path.join(stateDir, "pgbouncer.ini");
  if (await answers("127.0.0.1", port)) {
    // Ours, in front of this server: reuse it. Anything else on the port would route the app to another server.
    const route = `* = host=${new URL(serverUrl).hostname} port=${new URL(serverUrl).port || 5432}`;
    if (existsSync(ini) && readFileSync(ini, "utf8").includes(`\n${route}\n`)) return { host: "127.0.0.1", port, stateDir };
    throw new Error(`127.0.0.1:${port} is taken by something other than this checkout's pooler for ${new URL(serverUrl).host}: set bloom:database.local.poolerPort to a free port`);
  }
  const bin = pgbouncerBinary();
  mkdirSync(stateDir, { recursive: true });
  const server = new URL(serverUrl);
  const superuser = decodeURIComponent(server.username || "postgres");
  writeFileSync(ini, poolerConfig(serverUrl, port, stateDir), { mode: 0o600 });
  // Only the auth_user's line: every other role is looked up on the server. Mode 0600, the pooler's own user.
  writeFileSync(path.join(stateDir, "userlist.txt"), `"${superuser}" "${decodeURIComponent(server.password)}"\n`, { mode: 0o600 });
  // PgBouncer refuses to run as root: as root, run it as the unprivileged `postgres` user, like the embedded server.
  const user = serverUser();
  if (user) chownTree(stateDir, user);
  const res = spawnSync(bin, ["-d", ini], { uid: user?.uid, gid: user?.gid, encoding: "utf8" });
  if (res.status !== 0) throw new Error(`pgbouncer did not start on 127.0.0.1:${port}: ${(res.stderr || res.stdout).trim()} (see ${path.join(stateDir, "pgbouncer.log")})`);
  for (let i = 0; i < 40; i++) {
    if (await answers("127.0.0.1", port)) return { host: "127.0.0.1", port, stateDir };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pgbouncer started but does not answer on 127.0.0.1:${port}; see ${path.join(stateDir, "pgbouncer.log")}`);
}

/** Where a checkout keeps the pooler listening on `port`. */
export const poolerStateDir = (root: string, port: number) => path.join(root, `pgbouncer-${port}`);

/** Stops the pooler whose pid file is in `stateDir`; returns whether one was running. */
export function stopPooler(stateDir: string): boolean {
  const pidFile = path.join(stateDir, "pgbouncer.pid");
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  try {
    process.kill(pid, "SIGINT"); // PgBouncer: SIGINT = safe shutdown after current transactions
    return true;
  } catch {
    return false;
  }
}

/** The same URL with host and port of the pooler. */
export function throughPooler(url: string, pooler: RunningPooler): string {
  const u = new URL(url);
  u.hostname = pooler.host;
  u.port = String(pooler.port);
  return u.toString();
}
