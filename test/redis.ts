import { randomBytes } from "node:crypto";
import { Redis as UpstashRedis } from "@upstash/redis";
import { startUpstashRestServer, type RunningRestServer } from "../infra/kv/upstashRestServer";

export const TEST_REDIS_URL = process.env.BLOOM_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A REST endpoint on a random port over the test Redis, and an @upstash/redis client for it. */
export async function startTestEndpoint(): Promise<{ server: RunningRestServer; token: string; redis: UpstashRedis }> {
  const token = randomBytes(16).toString("hex");
  const server = await startUpstashRestServer({ redisUrl: TEST_REDIS_URL, token });
  return { server, token, redis: new UpstashRedis({ url: server.url, token, enableTelemetry: false }) };
}
