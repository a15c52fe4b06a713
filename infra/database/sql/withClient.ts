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
