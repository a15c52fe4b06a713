import { randomBytes } from "node:crypto";
import { Redis as UpstashRedis } from "@upstash/redis";
import { startUpstashRestServer, type RunningRestServer } from "../infra/kv/upstashRestServer";

/** The store Redis the harness started (test/globalSetup.ts): its admin URL, a secret. */
export const TEST_REDIS_URL = (() => {
  const url = process.env.BLOOM_TEST_REDIS_URL;
  if (!url) throw new Error("BLOOM_TEST_REDIS_URL is not set: the test harness (test/globalSetup.ts) starts the store's Redis; run through vitest's projects");
  return url;
})();

/** A REST endpoint on a random port over the test Redis, and an @upstash/redis client for it. */
export async function startTestEndpoint(): Promise<{ server: RunningRestServer; token: string; redis: UpstashRedis }> {
  const token = randomBytes(16).toString("hex");
  const server = await startUpstashRestServer({ redisUrl: TEST_REDIS_URL, token });
  return { server, token, redis: new UpstashRedis({ url: server.url, token, enableTelemetry: false }) };
}
