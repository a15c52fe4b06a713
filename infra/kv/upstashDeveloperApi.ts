/**
 * The Upstash developer API (https://api.upstash.com/v2, HTTP Basic with account email and API key), as much of it
 * as the platform needs: find a Redis database by name, create one, delete one. Create is idempotent by name, so a
 * rerun after a crash adopts the database the first run made. 429 and 5xx are retried with backoff.
 */
export interface UpstashAccount {
  email: string;
  apiKey: string;
  apiBaseUrl?: string;
}

export interface UpstashDatabase {
  database_id: string;
  database_name: string;
  endpoint: string;
  rest_token: string;
  read_only_rest_token?: string;
  primary_region?: string;
  state?: string;
}

export interface CreateDatabaseSpec {
  name: string;
  primaryRegion: string;
  readRegions?: string[];
}

export class UpstashApiError extends Error {
  constructor(readonly status: number, readonly operation: string, detail: string) {
    super(`upstash ${operation} failed (HTTP ${status}): ${detail}`);
    this.name = "UpstashApiError";
  }
}

export function upstashApi(account: UpstashAccount, sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))) {
  const base = account.apiBaseUrl ?? "https://api.upstash.com/v2";
  const auth = `Basic ${Buffer.from(`${account.email}:${account.apiKey}`).toString("base64")}`;

  async function call<T>(operation: string, method: string, path: string, body?: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: auth, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if ((res.status === 429 || res.status >= 500) && attempt < 5) {
        const retryAfter = Number(res.headers.get("retry-after"));
        await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 250 * 2 ** attempt);
        continue;
      }
      const text = await res.text();
      if (!res.ok) throw new UpstashApiError(res.status, operation, text.slice(0, 300));
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }

  return {
    async findDatabase(name: string): Promise<UpstashDatabase | undefined> {
      const list = await call<UpstashDatabase[]>("list databases", "GET", "/redis/databases");
      return list.find((d) => d.database_name === name);
    },
    async getDatabase(id: string): Promise<UpstashDatabase | undefined> {
      try {
        return await call<UpstashDatabase>("get database", "GET", `/redis/database/${encodeURIComponent(id)}`);
      } catch (err) {
        if (err instanceof UpstashApiError && err.status === 404) return undefined;
        throw err;
      }
    },
    async ensureDatabase(spec: CreateDatabaseSpec): Promise<UpstashDatabase> {
      const found = await this.findDatabase(spec.name);
      if (found) return found;
      return call<UpstashDatabase>("create database", "POST", "/redis/database", {
        database_name: spec.name,
        region: "global",
        primary_region: spec.primaryRegion,
        read_regions: spec.readRegions ?? [],
        tls: true,
      });
    },
    async deleteDatabase(id: string): Promise<void> {
      try {
        await call("delete database", "DELETE", `/redis/database/${encodeURIComponent(id)}`);
      } catch (err) {
        if (!(err instanceof UpstashApiError && err.status === 404)) throw err;
      }
    },
  };
}
