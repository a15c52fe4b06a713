import { Client } from "pg";
import { withClient } from "../infra/database/sql/withClient";

/** The Postgres that integration and contract tests use; .ci/run makes sure one is up. */
export const TEST_PG_URL = process.env.BLOOM_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Fails with instructions instead of a socket error when the server is not running. */
export async function requirePostgres(url = TEST_PG_URL): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`Postgres is not reachable at ${new URL(url).host} (${(err as Error).message}). Start it with \`npm run setup:local\` or point BLOOM_TEST_PG_URL at a server.`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function query<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient(url, async (client) => (await client.query<T>(sql, params)).rows, "bloom-tests");
}

export const uniqueName = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/**
 * Connections a test opens and keeps (sessions that hold transactions, locks or leases), all ended by `endAll`.
 * A socket error of a session the test expects to be terminated is swallowed; the next query reports it.
 */
export function openedClients() {
  const opened: Client[] = [];
  return {
    async connect(url: string, applicationName = "bloom-tests"): Promise<Client> {
      const c = new Client({ connectionString: url, application_name: applicationName });
      c.on("error", () => undefined);
      await c.connect();
      opened.push(c);
      return c;
    },
    endAll: () => Promise.all(opened.map((c) => c.end().catch(() => undefined))),
  };
}
