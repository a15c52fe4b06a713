import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensureStoreRedis } from "./localRedis";

/**
 * The local stack's key-value store: real Redis behind the Upstash-REST-compatible endpoint, run as a detached
 * process so it outlives `pulumi up` and serves the app. Its port and token are kept in
 * `<stateDir>/kv-endpoint-<port>.json` (gitignored); a second ensure finds it running and returns the same URL and token.
 */
export interface LocalEndpoint {
  url: string;
  token: string;
  pid: number;
}

export const DEFAULT_LOCAL_KV_PORT = 8079;
/** What the state file records for the local stack's own Redis (never its admin URL, which holds the password). */
const MANAGED_REDIS = "managed";
const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const DEFAULT_KV_STATE_DIR = path.join(REPO_ROOT, ".bloom");

async function healthy(url: string, token: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: '["PING"]', signal: AbortSignal.timeout(1_000) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * `redisUrl`: a Redis of your own (it must have no usable default user); absent, the local stack's own
 * redis-server (localRedis.ts), started if it is down. Its admin URL reaches the endpoint through its environment.
 */
export async function ensureLocalRestEndpoint(opts: { redisUrl?: string; port?: number; stateDir?: string }): Promise<LocalEndpoint> {
  const stateDir = opts.stateDir ?? DEFAULT_KV_STATE_DIR;
  const source = opts.redisUrl ?? MANAGED_REDIS;
  const redisUrl = opts.redisUrl ?? (await ensureStoreRedis()).adminUrl;
  const port = opts.port ?? DEFAULT_LOCAL_KV_PORT;
  const stateFile = endpointStateFile(port, stateDir);
  let token = randomBytes(24).toString("base64url");
  if (existsSync(stateFile)) {
    const known = JSON.parse(readFileSync(stateFile, "utf8")) as LocalEndpoint & { redisUrl: string };
    if (known.url === `http://127.0.0.1:${port}` && known.redisUrl === source) {
      if (await healthy(known.url, known.token)) return known;
      token = known.token; // restarted (machine reboot, killed): same token, so published outputs stay valid
    }
  }
  mkdirSync(stateDir, { recursive: true });
  const log = openSync(path.join(stateDir, `kv-endpoint-${port}.log`), "a");
  const child = spawn(process.execPath, ["--import", require.resolve("tsx"), path.join(__dirname, "localEndpointMain.ts")], {
    detached: true,
    stdio: ["ignore", log, log],
    env: { ...process.env, BLOOM_KV_REDIS_URL: redisUrl, BLOOM_KV_PORT: String(port), BLOOM_KV_TOKEN: token },
  });
  child.unref();
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 60; i++) {
    if (await healthy(url, token)) {
      const endpoint = { url, token, pid: child.pid! };
      writeFileSync(stateFile, JSON.stringify({ ...endpoint, redisUrl: source }), { mode: 0o600 });
      return endpoint;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the local Upstash-compatible endpoint did not start on port ${port} (is the port taken, or Redis at ${new URL(redisUrl).host} down?); see ${path.join(stateDir, `kv-endpoint-${port}.log`)}`);
}

/** One endpoint per port: its URL, token and pid are kept here (gitignored, mode 600). */
export function endpointStateFile(port: number, stateDir = DEFAULT_KV_STATE_DIR): string {
  return path.join(stateDir, `kv-endpoint-${port}.json`);
}

/**
 * Stops the endpoint this checkout started on `port`, if any. Its state file (URL, token) stays, so the next
 * command that needs the store starts it again with the same token — the stack's outputs stay valid after
 * `npm run local -- stop`. `forget` removes it too (a throw-away test stack's endpoint).
 */
export function stopLocalRestEndpoint(port: number, stateDir = DEFAULT_KV_STATE_DIR, opts: { forget?: boolean } = {}): void {
  const file = endpointStateFile(port, stateDir);
  if (!existsSync(file)) return;
  const { pid } = JSON.parse(readFileSync(file, "utf8")) as LocalEndpoint;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    // already gone
  }
  if (opts.forget) rmSync(file, { force: true });
}

/** Restarts a local endpoint this checkout started earlier, from its state file, if `restUrl` is one and it is down. */
export async function reviveLocalEndpoint(restUrl: string, stateDir = DEFAULT_KV_STATE_DIR): Promise<void> {
  const url = new URL(restUrl);
  if (url.hostname !== "127.0.0.1") return;
  const file = endpointStateFile(Number(url.port), stateDir);
  if (!existsSync(file)) return;
  const known = JSON.parse(readFileSync(file, "utf8")) as LocalEndpoint & { redisUrl: string };
  await ensureLocalRestEndpoint({ redisUrl: known.redisUrl === MANAGED_REDIS ? undefined : known.redisUrl, port: Number(url.port), stateDir });
}
