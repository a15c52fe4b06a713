import { spawnSync } from "node:child_process";
import Redis from "ioredis";

/**
 * Makes sure a Redis is reachable for tests and the local stack: BLOOM_TEST_REDIS_URL, or 127.0.0.1:6379, started
 * with the machine's redis-server (nothing persisted) when it is down.
 */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

async function pong(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000, retryStrategy: () => null });
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function ensureRedis(log: (m: string) => void = () => undefined): Promise<string> {
  const configured = process.env.BLOOM_TEST_REDIS_URL;
  const url = configured ?? DEFAULT_REDIS_URL;
  if (await pong(url)) return url;
  if (configured) throw new Error(`BLOOM_TEST_REDIS_URL does not answer PING (${new URL(url).host}); start it or unset the variable`);
  const res = spawnSync("redis-server", ["--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"], { encoding: "utf8" });
  if (res.error) throw new Error("Redis is not running on 127.0.0.1:6379 and redis-server is not installed: `apt-get install redis-server`, or set BLOOM_TEST_REDIS_URL");
  for (let i = 0; i < 20; i++) {
    if (await pong(url)) {
      log("started redis-server on 127.0.0.1:6379");
      return url;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`redis-server did not come up on 127.0.0.1:6379: ${res.stderr || res.stdout}`);
}
