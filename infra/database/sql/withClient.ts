import { Client } from "pg";

/** One short-lived connection for one piece of work; always closed, whatever the work does. */
export async function withClient<T>(url: string, work: (client: Client) => Promise<T>, applicationName = "bloom-platform"): Promise<T> {
  const client = new Client({ connectionString: url, application_name: applicationName });
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
