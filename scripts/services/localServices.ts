import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { PlatformConfig } from "../../infra/config/schema";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { DEFAULT_EMBEDDED_DATA_DIR } from "../../infra/database/createBackend";
import { stopEmbeddedServer } from "../../infra/database/local/embeddedPostgres";
import { DEFAULT_POOLER_PORT, poolerStateDir, stopPooler } from "../../infra/database/local/pgbouncer";
import { DEFAULT_LOCAL_KV_PORT, endpointStateFile, stopLocalRestEndpoint } from "../../infra/kv/localEndpoint";
import { DEFAULT_STORE_REDIS_PORT, stopStoreRedis } from "../../infra/kv/localRedis";
import { DEFAULT_TEMPORAL_PORT, stopTemporalDevServer, temporalDevServerRunning } from "../../infra/controlPlane/temporalDevServer";

/**
 * The long-lived processes a local stack starts on demand and leaves running for the next short-lived command:
 * the embedded Postgres (when no serverUrl is set), the Upstash-compatible endpoint and its redis-server, PgBouncer,
 * and the Temporal dev server (when one was started: `npm run setup:temporal` builds its CLI). `destroy`
 * removes the stack's databases and keys, not these; `npm run local -- stop` ends them.
 */
export interface LocalService {
  name: string;
  running(): boolean;
  stop(): void;
}

const alive = (pid: number) => {
  if (!(pid > 0)) return false; // kill(0) would signal our own process group
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const pidIn = (file: string, line = 0) => (existsSync(file) ? Number(readFileSync(file, "utf8").split("\n")[line]) : 0);

export function localServicesOf(config: PlatformConfig): LocalService[] {
  const services: LocalService[] = [];
  if (config.database.backend === "local" && !config.database.local?.serverUrl) {
    const pidFile = path.join(DEFAULT_EMBEDDED_DATA_DIR, "postmaster.pid");
    services.push({ name: `embedded Postgres (${path.relative(REPO_ROOT, DEFAULT_EMBEDDED_DATA_DIR)})`, running: () => alive(pidIn(pidFile)), stop: () => stopEmbeddedServer(DEFAULT_EMBEDDED_DATA_DIR) });
  }
  if (config.database.backend === "local") {
    const port = config.database.local?.poolerPort ?? DEFAULT_POOLER_PORT;
    const dir = poolerStateDir(path.join(REPO_ROOT, ".bloom"), port);
    services.push({ name: `PgBouncer on 127.0.0.1:${port}`, running: () => alive(pidIn(path.join(dir, "pgbouncer.pid"))), stop: () => void stopPooler(dir) });
  }
  if (config.kv.backend === "local") {
    const port = config.kv.local?.port ?? DEFAULT_LOCAL_KV_PORT;
    const file = endpointStateFile(port);
    const pid = () => (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { pid: number }).pid : 0);
    services.push({ name: `key-value endpoint on 127.0.0.1:${port}`, running: () => alive(pid()), stop: () => stopLocalRestEndpoint(port) });
    if (!config.kv.local?.redisUrl) {
      const redisPort = Number(process.env.BLOOM_STORE_REDIS_PORT ?? DEFAULT_STORE_REDIS_PORT);
      const pidFile = path.join(REPO_ROOT, ".bloom", `redis-${redisPort}`, "redis.pid");
      services.push({ name: `the store's redis-server on 127.0.0.1:${redisPort}`, running: () => alive(pidIn(pidFile)), stop: () => void stopStoreRedis({ port: redisPort }) });
    }
  }
  const temporalPort = Number(process.env.BLOOM_TEMPORAL_PORT ?? DEFAULT_TEMPORAL_PORT);
  services.push({ name: `Temporal dev server on 127.0.0.1:${temporalPort}`, running: () => temporalDevServerRunning({ port: temporalPort }), stop: () => void stopTemporalDevServer({ port: temporalPort }) });
  return services;
}
