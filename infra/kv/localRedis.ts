import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";

/**
 * The local stack's own redis-server (issue 22): its own loopback port, an ACL file under `.bloom/`, the `default`
 * user off, and one admin user whose password lives only in a mode-600 file (the ACL file holds its SHA-256, the
 * command line holds neither). So locally, as on Upstash, the endpoint's admin token is the only way to admin
 * rights and Redis enforces every other token's rules — a forged token for `default` gets nothing. The machine's
 * shared Redis on 6379 is left alone: turning its default user off would lock out everything else using it.
 * BLOOM_STORE_REDIS_PORT moves it (two checkouts on one machine each need their own port).
 */
export const DEFAULT_STORE_REDIS_PORT = 6390;
export const STORE_ADMIN_USER = "bloom-admin";

export interface LocalStoreRedis {
  /** redis://bloom-admin:<password>@127.0.0.1:<port>: a secret, never printed. */
  adminUrl: string;
  port: number;
  started: boolean;
}

const DEFAULT_STATE_DIR = path.join(path.resolve(__dirname, "..", ".."), ".bloom");
const storeDir = (stateDir: string, port: number) => path.join(stateDir, `redis-${port}`);

/** AUTH then PING over a bare socket: `true` only for this checkout's server (a foreign one refuses the password). */
function authedPing(port: number, password: string): Promise<"ok" | "down" | "foreign"> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let buffer = "";
    const done = (r: "ok" | "down" | "foreign") => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(2_000, () => done("down"));
    socket.once("error", () => done("down"));
    socket.once("connect", () => socket.write(resp(["AUTH", STORE_ADMIN_USER, password]) + resp(["PING"])));
    socket.on("data", (data) => {
      buffer += data.toString();
      if (buffer.startsWith("-")) return done("foreign");
      if (buffer.includes("+PONG")) done("ok");
    });
  });
}

const resp = (args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;

export function storeRedisFiles(password: string, port: number, dir: string): { config: string; acl: string } {
  const hash = createHash("sha256").update(password).digest("hex");
  return {
    config: [
      // Persistent like Upstash: flags, budgets and counters in an append-only file, users in the ACL file (the
      // endpoint saves it after each change), so `npm run local -- stop` loses nothing. Scripts are not kept (as on
      // Upstash): the next `up` loads them again.
      "bind 127.0.0.1", `port ${port}`, "protected-mode yes", "daemonize yes", 'save ""', "appendonly yes", "appendfsync everysec",
      `dir ${dir}`, `pidfile ${path.join(dir, "redis.pid")}`, `logfile ${path.join(dir, "redis.log")}`, `aclfile ${path.join(dir, "users.acl")}`,
    ].join("\n") + "\n",
    acl: [`user default off resetkeys resetchannels -@all`, `user ${STORE_ADMIN_USER} on #${hash} ~* &* +@all`].join("\n") + "\n",
  };
}

export async function ensureStoreRedis(opts: { stateDir?: string; port?: number; log?: (m: string) => void } = {}): Promise<LocalStoreRedis> {
  const port = opts.port ?? Number(process.env.BLOOM_STORE_REDIS_PORT ?? DEFAULT_STORE_REDIS_PORT);
  const dir = storeDir(opts.stateDir ?? DEFAULT_STATE_DIR, port);
  // Only the store's own directory is private: `.bloom` itself is shared with services that run as other users
  // (PgBouncer and the embedded Postgres run as `postgres` when we are root) and must stay traversable.
  mkdirSync(path.dirname(dir), { recursive: true });
  mkdirSync(dir, { mode: 0o700, recursive: true });
  const secretFile = path.join(dir, "admin.secret");
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(24).toString("base64url"), { mode: 0o600 });
  const password = readFileSync(secretFile, "utf8").trim();
  const adminUrl = `redis://${STORE_ADMIN_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const state = await authedPing(port, password);
  if (state === "ok") return { adminUrl, port, started: false };
  if (state === "foreign") throw new Error(`127.0.0.1:${port} is another Redis (not this checkout's store): stop it, or set BLOOM_STORE_REDIS_PORT to a free port`);
  const files = storeRedisFiles(password, port, dir);
  writeFileSync(path.join(dir, "redis.conf"), files.config, { mode: 0o600 });
  // Users the endpoint saved (the app's scoped users) stay; the default user and the admin are always ours.
  const aclPath = path.join(dir, "users.acl");
  const saved = existsSync(aclPath) ? readFileSync(aclPath, "utf8").split("\n").filter((l) => l.trim() && !/^user (default|bloom-admin) /.test(l)) : [];
  writeFileSync(aclPath, files.acl + saved.map((l) => `${l}\n`).join(""), { mode: 0o600 });
  chmodSync(aclPath, 0o600);
  const res = spawnSync("redis-server", [path.join(dir, "redis.conf")], { encoding: "utf8" });
  if (res.error) throw new Error("redis-server is not installed: `apt-get install redis-server` (the local stack runs its own Redis)");
  for (let i = 0; i < 40; i++) {
    if ((await authedPing(port, password)) === "ok") {
      opts.log?.(`started the local store's redis-server on 127.0.0.1:${port} (ACL file ${path.join(dir, "users.acl")})`);
      return { adminUrl, port, started: true };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`redis-server did not come up on 127.0.0.1:${port}: ${res.stderr || res.stdout}; see ${path.join(dir, "redis.log")}`);
}

/** Stops this checkout's store Redis on `port` (`npm run local -- stop`). */
export function stopStoreRedis(opts: { stateDir?: string; port?: number } = {}): boolean {
  const port = opts.port ?? Number(process.env.BLOOM_STORE_REDIS_PORT ?? DEFAULT_STORE_REDIS_PORT);
  const pidFile = path.join(storeDir(opts.stateDir ?? DEFAULT_STATE_DIR, port), "redis.pid");
  if (!existsSync(pidFile)) return false;
  try {
    process.kill(Number(readFileSync(pidFile, "utf8").trim()), "SIGTERM");
    return true;
  } catch {
    return false;
  }
}
