import { ensureTestPostgres } from "../scripts/services/ensurePostgres";

/** Tests that need Postgres get one: the machine's, started if down, or the embedded server from npm. */
export default async function setup() {
  process.env.BLOOM_TEST_PG_URL = await ensureTestPostgres((m) => console.log(`[test services] ${m}`));
}
