import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { PlatformConfig } from "../../infra/config/schema";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { DEFAULT_EMBEDDED_DATA_DIR } from "../../infra/database/createBackend";
import { stopEmbeddedServer } from "../../infra/database/local/embeddedPostgres";
import { DEFAULT_POOLER_PORT, poolerStateDir, stopPooler } from "../../infra/database/local/pgbouncer";
import { DEFAULT_LOCAL_KV_PORT, endpointStateFile, stopLocalRestEndpoint } from "../../infra/kv/localEndpoint";
import { DEFAULT_STORE_REDIS_PORT, stopStoreRedis } from "../../infra/kv/localRedis";
import { localWorkerRunning, stopLocalWorker } from "../controlPlane/localWorker";
import { stopTemporalDevServer, temporalDevServerRunning, temporalPort } from "../../infra/controlPlane/temporalDevServer";
import { pidInFile, processAlive } from "../../infra/processes";

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


export function localServicesOf(config: PlatformConfig): LocalService[] {
  const services: LocalService[] = [];
  if (config.database.backend === "local" && !config.database.local?.serverUrl) {
    const pidFile = path.join(DEFAULT_EMBEDDED_DATA_DIR, "postmaster.pid");
    services.push({ name: `embedded Postgres (${path.relative(REPO_ROOT, DEFAULT_EMBEDDED_DATA_DIR)})`, running: () => processAlive(pidInFile(pidFile)), stop: () => stopEmbeddedServer(DEFAULT_EMBEDDED_DATA_DIR) });
  }
  if (config.database.backend === "local") {
    const port = config.database.local?.poolerPort ?? DEFAULT_POOLER_PORT;
    const dir = poolerStateDir(path.join(REPO_ROOT, ".bloom"), port);
    services.push({ name: `PgBouncer on 127.0.0.1:${port}`, running: () => processAlive(pidInFile(path.join(dir, "pgbouncer.pid"))), stop: () => void stopPooler(dir) });
  }
  if (config.kv.backend === "local") {
    const port = config.kv.local?.port ?? DEFAULT_LOCAL_KV_PORT;
    const file = endpointStateFile(port);
    const pid = () => (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { pid: number }).pid : 0);
    services.push({ name: `key-value endpoint on 127.0.0.1:${port}`, running: () => processAlive(pid()), stop: () => stopLocalRestEndpoint(port) });
    if (!config.kv.local?.redisUrl) {
      const redisPort = Number(process.env.BLOOM_STORE_REDIS_PORT ?? DEFAULT_STORE_REDIS_PORT);
      const pidFile = path.join(REPO_ROOT, ".bloom", `redis-${redisPort}`, "redis.pid");
      services.push({ name: `the store's redis-server on 127.0.0.1:${redisPort}`, running: () => processAlive(pidInFile(pidFile)), stop: () => void stopStoreRedis({ port: redisPort }) });
    }
  }
  const port = temporalPort();
  // The worker before its server: it finishes what it holds while the server still answers.
  services.push({ name: `control-plane worker of 127.0.0.1:${port}`, running: () => localWorkerRunning(port), stop: () => void stopLocalWorker(port) });
  services.push({ name: `Temporal dev server on 127.0.0.1:${port}`, running: () => temporalDevServerRunning({ port }), stop: () => void stopTemporalDevServer({ port }) });
  return services;
}
