import { ensureTestPostgres } from "../scripts/services/ensurePostgres";
import { ensureStoreRedis } from "../infra/kv/localRedis";
import { ensureTestPooler } from "../scripts/services/ensurePooler";

/** Tests that need services get them: Postgres (the machine's, started if down, or embedded), the store's Redis, and PgBouncer in front of that Postgres. */
export default async function setup() {
  const log = (m: string) => console.log(`[test services] ${m}`);
  process.env.BLOOM_TEST_PG_URL = await ensureTestPostgres(log);
  // The local store's own redis-server (no usable default user), or a Redis named by BLOOM_TEST_REDIS_URL.
  process.env.BLOOM_TEST_REDIS_URL ??= (await ensureStoreRedis({ log })).adminUrl;
  process.env.BLOOM_TEST_POOLER_PORT = String(await ensureTestPooler(process.env.BLOOM_TEST_PG_URL, log));
}
