import path from "node:path";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { ensurePooler, pgbouncerBinary, poolerStateDir } from "../../infra/database/local/pgbouncer";
import { ensureDebianProgram } from "./debianPackage";

/** The pooler tests use, in front of the test Postgres; the local stack's own runs on bloom:database.local.poolerPort. */
export const TEST_POOLER_PORT = Number(process.env.BLOOM_TEST_POOLER_PORT ?? 6436);

/** pgbouncer from Debian's package: installed when missing and we are root (as CI and a fresh machine are). */
export function ensurePgbouncerInstalled(log: (m: string) => void = () => undefined): string {
  return ensureDebianProgram({ packageName: "pgbouncer", path: pgbouncerBinary }, log);
}

/** Makes sure a transaction-mode PgBouncer answers in front of the test Postgres; returns its port. */
export async function ensureTestPooler(testPgUrl: string, log: (m: string) => void = () => undefined): Promise<number> {
  ensurePgbouncerInstalled(log);
  const pooler = await ensurePooler(testPgUrl, TEST_POOLER_PORT, poolerStateDir(path.join(REPO_ROOT, ".bloom"), TEST_POOLER_PORT));
  return pooler.port;
}
