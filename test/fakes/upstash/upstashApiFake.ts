import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local stand-in for the Upstash developer API's Redis endpoints, after its documentation: HTTP Basic with
 * email and API key (401 otherwise), `POST /v2/redis/database` with `database_name`, `region: "global"`,
 * `primary_region`, `read_regions`, `tls`; list, get and delete by id; 429 with Retry-After on demand.
 */
const REGIONS = new Set(["us-east-1", "us-west-1", "us-west-2", "eu-central-1", "eu-west-1", "sa-east-1", "ap-southeast-1", "ap-southeast-2"]);

export class UpstashApiFake {
  readonly requests: { method: string; path: string; status: number }[] = [];
  private readonly databases = new Map<string, Record<string, unknown>>();
  private throttle = 0;
  private server?: Server;
  url = "";

  constructor(readonly email = "ops@bloom.example", readonly apiKey = "fake-upstash-key") {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        const path = (req.url ?? "/").replace(/^\/v2/, "");
        const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          this.requests.push({ method: req.method ?? "GET", path, status });
          res.writeHead(status, { "content-type": "application/json", ...headers });
          res.end(JSON.stringify(body));
        };
        const expected = `Basic ${Buffer.from(`${this.email}:${this.apiKey}`).toString("base64")}`;
        if (req.headers.authorization !== expected) return reply(401, "Unauthorized");
        if (this.throttle > 0) {
          this.throttle--;
          return reply(429, "Too many requests", { "retry-after": "1" });
        }
        const byId = /^\/redis\/database\/([^/]+)$/.exec(path);
        if (req.method === "GET" && path === "/redis/databases") return reply(200, [...this.databases.values()]);
        if (req.method === "POST" && path === "/redis/database") {
          const body = JSON.parse(raw || "{}");
          if (typeof body.database_name !== "string" || !body.database_name) return reply(400, "database_name is required");
          if (body.region !== "global") return reply(400, "regional databases are deprecated: use region \"global\" with primary_region");
          if (!REGIONS.has(body.primary_region)) return reply(400, `invalid primary_region ${body.primary_region}`);
          const id = randomUUID();
          const db = {
            database_id: id, database_name: body.database_name, database_type: "Pay as You Go", region: "global", primary_region: body.primary_region,
            read_regions: body.read_regions ?? [], port: 6379, creation_time: Math.floor(Date.now() / 1000), state: "active", tls: true,
            endpoint: `${body.database_name}-${id.slice(0, 6)}.upstash.invalid`, rest_token: `tok-${randomUUID()}`, read_only_rest_token: `ro-${randomUUID()}`,
          };
          this.databases.set(id, db);
          return reply(200, db);
        }
        if (byId && req.method === "GET") return this.databases.has(byId[1]!) ? reply(200, this.databases.get(byId[1]!)) : reply(404, "database not found");
        if (byId && req.method === "DELETE") return this.databases.delete(byId[1]!) ? reply(200, "OK") : reply(404, "database not found");
        return reply(404, `no route ${req.method} ${path}`);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v2`;
    return this.url;
  }

  throttleNext(times: number): void {
    this.throttle = times;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
