import { startUpstashRestServer } from "./upstashRestServer";

/** Entry of the detached local REST endpoint process (see localEndpoint.ts). */
async function main() {
  const { BLOOM_KV_REDIS_URL, BLOOM_KV_PORT, BLOOM_KV_TOKEN } = process.env;
  if (!BLOOM_KV_REDIS_URL || !BLOOM_KV_PORT || !BLOOM_KV_TOKEN) throw new Error("BLOOM_KV_REDIS_URL, BLOOM_KV_PORT and BLOOM_KV_TOKEN are required");
  const server = await startUpstashRestServer({ redisUrl: BLOOM_KV_REDIS_URL, token: BLOOM_KV_TOKEN, port: Number(BLOOM_KV_PORT) });
  console.log(`upstash-compatible endpoint on ${server.url} → ${new URL(BLOOM_KV_REDIS_URL).host}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
