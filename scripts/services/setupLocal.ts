import { ensureTestPostgres } from "./ensurePostgres";
import { ensureStoreRedis } from "../../infra/kv/localRedis";
import { ensureTestPooler } from "./ensurePooler";

/**
 * setup:local — the services the local stack and the tests need: the store's own Redis on 127.0.0.1:6390 (flags and limits behind
 * the Upstash-compatible endpoint), a Postgres for tests, and PgBouncer in front of it (installed from Debian if
 * missing). Prints the Postgres URL on stdout (CI exports it as
 * BLOOM_TEST_PG_URL); progress goes to stderr. The local stack's own Postgres is the embedded one, started on demand.
 */
const log = (m: string) => process.stderr.write(`[setup:local] ${m}\n`);

async function main() {
  const redis = await ensureStoreRedis({ log });
  log(`Redis (the local store's own, ACL file under .bloom/): 127.0.0.1:${redis.port}`);
  const pg = await ensureTestPostgres(log);
  log(`Postgres for tests: ${new URL(pg).host}`);
  log(`PgBouncer (transaction pooling) for tests: 127.0.0.1:${await ensureTestPooler(pg, log)}`);
  process.stdout.write(`${pg}\n`);
}

main().catch((err) => {
  log((err as Error).message);
  process.exit(1);
});
