import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { ensureEmbeddedServer } from "../../infra/database/local/embeddedPostgres";

/**
 * Makes sure a Postgres is reachable for tests and returns its URL, in this order: BLOOM_TEST_PG_URL or the
 * machine's server on 127.0.0.1:5432; the machine's Debian cluster, started if it is down; else the embedded
 * server from npm, started under .bloom/test-postgres.
 */
export const DEFAULT_TEST_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const EMBEDDED_TEST_PORT = 54330;

async function reachable(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function startDebianCluster(): boolean {
  const etc = "/etc/postgresql";
  if (!existsSync(etc)) return false;
  for (const version of readdirSync(etc)) {
    if (!existsSync(path.join(etc, version, "main"))) continue;
    const res = spawnSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"], { encoding: "utf8" });
    if (res.status === 0 || /already running/.test(`${res.stdout}${res.stderr}`)) return true;
  }
  return false;
}

export async function ensureTestPostgres(log: (m: string) => void = () => undefined): Promise<string> {
  const configured = process.env.BLOOM_TEST_PG_URL;
  const url = configured ?? DEFAULT_TEST_PG_URL;
  if (await reachable(url)) return url;
  if (configured) throw new Error(`BLOOM_TEST_PG_URL points at a Postgres that does not answer (${new URL(url).host}); start it or unset the variable`);
  if (startDebianCluster()) {
    for (let i = 0; i < 20 && !(await reachable(url)); i++) await new Promise((r) => setTimeout(r, 500));
    if (await reachable(url)) {
      log("started the machine's Postgres cluster");
      return url;
    }
  }
  const embedded = ensureEmbeddedServer(path.join(REPO_ROOT, ".bloom", "test-postgres"), EMBEDDED_TEST_PORT);
  log(`no Postgres on 127.0.0.1:5432: started the embedded one on port ${embedded.port}`);
  return embedded.url;
}

const LOGICAL_TEST_PORT = 54331;

/**
 * A Postgres with wal_level = logical for the online-move tests: BLOOM_TEST_LOGICAL_PG_URL, else the embedded
 * server under .bloom/test-postgres-logical (started, or restarted with the settings, by the harness — never the
 * machine's server edited by hand).
 */
export async function ensureLogicalTestPostgres(log: (m: string) => void = () => undefined): Promise<string> {
  const configured = process.env.BLOOM_TEST_LOGICAL_PG_URL;
  if (configured) {
    if (!(await reachable(configured))) throw new Error(`BLOOM_TEST_LOGICAL_PG_URL points at a Postgres that does not answer (${new URL(configured).host}); start it or unset the variable`);
    return configured;
  }
  const embedded = ensureEmbeddedServer(path.join(REPO_ROOT, ".bloom", "test-postgres-logical"), LOGICAL_TEST_PORT, { restartForSettings: true });
  log(`logical-replication Postgres (embedded) on port ${embedded.port}`);
  return embedded.url;
}
