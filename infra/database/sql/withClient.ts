import { Client } from "pg";

/**
 * A connection whose loss while idle (the server ended the session: a restart, or a newer mover ending an older
 * one's sessions) does not crash the process: the next query on it fails instead, and the work sees that.
 */
export function quietClient(config: ConstructorParameters<typeof Client>[0]): Client {
  const client = new Client(config);
  client.on("error", () => undefined);
  return client;
}

/** One short-lived connection for one piece of work; always closed, whatever the work does. */
export async function withClient<T>(url: string, work: (client: Client) => Promise<T>, applicationName = "bloom-platform"): Promise<T> {
  const client = quietClient({ connectionString: url, application_name: applicationName });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** `work` in one transaction on `client`: committed when it returns, rolled back (the original error kept) when it throws. */
export async function inTransaction<T>(client: Client, work: () => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  try {
    const out = await work();
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

/** One short-lived connection running one transaction. */
export function withTransaction<T>(url: string, work: (client: Client) => Promise<T>, applicationName?: string): Promise<T> {
  return withClient(url, (client) => inTransaction(client, () => work(client)), applicationName);
}
