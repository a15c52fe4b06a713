import { spawnSync } from "node:child_process";
import { connect } from "node:net";

/**
 * Makes sure a Redis is reachable for tests and the local stack: BLOOM_TEST_REDIS_URL, or 127.0.0.1:6379, started
 * with the machine's redis-server (nothing persisted) when it is down.
 */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** A bare RESP PING over TCP: no client library, so a down server is a quick `false`, never a retry loop. */
function pong(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
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
