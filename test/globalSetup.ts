import { ensureTestPostgres } from "../scripts/services/ensurePostgres";
import { ensureRedis } from "../scripts/services/ensureRedis";
import { ensureTestPooler } from "../scripts/services/ensurePooler";

/** Tests that need services get them: Postgres (the machine's, started if down, or embedded), Redis, and PgBouncer in front of that Postgres. */
export default async function setup() {
  const log = (m: string) => console.log(`[test services] ${m}`);
  process.env.BLOOM_TEST_PG_URL = await ensureTestPostgres(log);
  process.env.BLOOM_TEST_REDIS_URL = await ensureRedis(log);
  process.env.BLOOM_TEST_POOLER_PORT = String(await ensureTestPooler(process.env.BLOOM_TEST_PG_URL, log));
}
