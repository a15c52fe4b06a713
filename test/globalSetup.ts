import { ensureTestPostgres } from "../scripts/services/ensurePostgres";
import { ensureRedis } from "../scripts/services/ensureRedis";

/** Tests that need services get them: Postgres (the machine's, started if down, or embedded) and Redis. */
export default async function setup() {
  const log = (m: string) => console.log(`[test services] ${m}`);
  process.env.BLOOM_TEST_PG_URL = await ensureTestPostgres(log);
  process.env.BLOOM_TEST_REDIS_URL = await ensureRedis(log);
}
