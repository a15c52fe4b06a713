import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { Redis } from "@upstash/redis";
import { createTenantGuards } from "@bloom/tenant-runtime/limiter";
import { writeBudgets } from "../../infra/kv/budgetStore";
import { startUpstashRestServer } from "../../infra/kv/upstashRestServer";
import { ensureStoreRedis } from "../../infra/kv/localRedis";
import { percentile } from "./stats";

/**
 * bench:limiter — latency of `assertTenantBudget` through the local Upstash-compatible endpoint, against the
 * smallest thing the app could do instead: one @upstash/redis command round trip to the same endpoint, measured
 * interleaved in the same run. Target: p99 overhead <= 1.5x.
 */
const { values } = parseArgs({ options: { requests: { type: "string", default: "3000" }, tenants: { type: "string", default: "50" } } });
const requests = Number(values.requests);
const tenants = Number(values.tenants);

const pct = percentile;

async function main() {
  const redisUrl = (await ensureStoreRedis()).adminUrl;
  const token = randomBytes(16).toString("hex");
  const server = await startUpstashRestServer({ redisUrl, token });
  const prefix = `bench:limiter:${Date.now()}:`;
  const redis = new Redis({ url: server.url, token, enableTelemetry: false });
  const ids = Array.from({ length: tenants }, (_, i) => `clinic-${i}`);
  await writeBudgets(redis, prefix, { tenants: Object.fromEntries(ids.map((id) => [id, { requests: 1_000_000, window: "1 m" }])), tiers: {} });
  const guards = createTenantGuards({ url: server.url, token, prefix });
  await redis.set(`${prefix}probe`, "1");

  // Warm both paths (script load, connection reuse, budget cache), then interleave to share any noise.
  for (let i = 0; i < 200; i++) {
    await guards.assertTenantBudget(ids[i % tenants]!, `user-${i % 7}`);
    await redis.get(`${prefix}probe`);
  }
  const limiter: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < requests; i++) {
    let t = performance.now();
    await guards.assertTenantBudget(ids[i % tenants]!, `user-${i % 7}`);
    limiter.push(performance.now() - t);
    t = performance.now();
    await redis.get(`${prefix}probe`);
    direct.push(performance.now() - t);
  }
  await server.close();
  const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms`;
  console.log(`assertTenantBudget: ${fmt(limiter)} (${requests} calls over ${tenants} tenants)`);
  console.log(`@upstash/redis GET: ${fmt(direct)}`);
  console.log(`p50 ratio = ${(pct(limiter, 50) / pct(direct, 50)).toFixed(2)}`);
  console.log(`limiter-p99 overhead = ${(pct(limiter, 99) / pct(direct, 99)).toFixed(2)} (target <= 1.5)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
