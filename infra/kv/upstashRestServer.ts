import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { timingSafeEqual } from "node:crypto";
import Redis from "ioredis";
import { encodeResult, parseCommand, type RedisValue } from "./upstashEncoding";
import { ScriptShaMap, translateScriptCommand } from "./scriptCompat";
import { parseAclToken, translateAclCommand } from "./aclTokens";

/**
 * A small Upstash-REST-compatible endpoint in front of a real Redis (the protocol SRH implements), so that
 * @upstash/redis and @upstash/ratelimit run unchanged on the local stack:
 *   POST /            ["CMD", ...args]            → 200 { result } | 400 { error }
 *   POST /pipeline    [[...], [...]]              → 200 [{ result } | { error }, ...]
 *   POST /multi-exec  [[...], [...]]              → 200 [{ result } | { error }, ...] (MULTI/EXEC) | 400 { error }
 *   GET|POST /cmd/arg1/arg2                       → path-style single command
 * `Authorization: Bearer <token>` (or `?_token=`) is required: 401 { error: "Unauthorized" } otherwise. The
 * endpoint's own token runs as Redis's default user; a token made with `ACL GENTOKEN` (Upstash's extension,
 * aclTokens.ts) runs on a connection authenticated as that ACL user, so Redis enforces its key patterns and commands.
 */
export interface UpstashRestServerOptions {
  redisUrl: string;
  token: string;
  port?: number;
  host?: string;
}

export interface RunningRestServer {
  url: string;
  close(): Promise<void>;
}

const SCRIPT_SHAS_KEY = "bloom-endpoint:script-shas";
const BLOCKED = new Set(["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "SYNC", "PSYNC", "QUIT", "SHUTDOWN", "BLPOP", "BRPOP", "BLMOVE", "BZPOPMIN", "BZPOPMAX", "XREAD", "WAIT"]);

export async function startUpstashRestServer(opts: UpstashRestServerOptions): Promise<RunningRestServer> {
  const redis = new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true });
  await redis.connect();
  const expected = Buffer.from(`Bearer ${opts.token}`);
  // The client-to-server SHA map outlives this process in Redis itself (under a key no app user's patterns
  // reach): after an endpoint restart, the limiter's EVALSHA of a script the platform loaded still resolves,
  // and the limiter user has no EVAL to fall back on.
  const scripts = new ScriptShaMap((clientSha, serverSha) => void redis.hset(SCRIPT_SHAS_KEY, clientSha, serverSha).catch(() => undefined));
  for (const [clientSha, serverSha] of Object.entries(await redis.hgetall(SCRIPT_SHAS_KEY))) scripts.remember(clientSha, serverSha);

  const users = new Map<string, Promise<Redis | undefined>>();
  // A token's connection logs in as the token's user only: ioredis lets credentials in the URL win over the
  // options, so the admin's are taken out of the URL first.
  const serverOnly = new URL(opts.redisUrl);
  serverOnly.username = "";
  serverOnly.password = "";

  /** The Redis connection a request's token runs on, or undefined (401). */
  const connectionFor = async (req: IncomingMessage, url: URL): Promise<Redis | undefined> => {
    const header = req.headers.authorization ?? (url.searchParams.get("_token") ? `Bearer ${url.searchParams.get("_token")}` : "");
    const given = Buffer.from(header);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return redis;
    const acl = header.startsWith("Bearer ") ? parseAclToken(header.slice("Bearer ".length)) : undefined;
    if (!acl) return undefined;
    const key = header.slice("Bearer ".length);
    if (!users.has(key)) {
      users.set(key, (async () => {
        const conn = new Redis(serverOnly.toString(), { username: acl.user, password: acl.password, lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy: () => null });
        conn.on("error", () => undefined); // a refused login is answered with 401 below, not logged as a crash
        try {
          await conn.connect();
          return conn;
        } catch {
          conn.disconnect();
          users.delete(key); // a user made later with this token may log in next time
          return undefined;
        }
      })());
    }
    return users.get(key)!;
  };

  let aclFile: boolean | undefined;
  const persistAcl = async () => {
    aclFile ??= ((await redis.call("CONFIG", "GET", "aclfile")) as string[])[1] !== "";
    if (aclFile) await redis.call("ACL", "SAVE");
  };

  const run = async (conn: Redis, command: (string | number)[]): Promise<{ result: RedisValue } | { error: string }> => {
    const name = String(command[0]).toUpperCase();
    if (BLOCKED.has(name)) return { error: `ERR Command is not available: '${name}'. See https://upstash.com/docs/redis/overall/rediscompatibility` };
    const acl = translateAclCommand(command.map(String));
    if ("reply" in acl) return conn === redis ? { result: acl.reply } : { error: "NOPERM this user has no permissions to run the 'acl' command" };
    if ("error" in acl) return acl;
    try {
      const translated = translateScriptCommand(acl.command, scripts);
      const result = (await conn.call(translated.command[0]!, ...translated.command.slice(1))) as RedisValue;
      // Upstash persists every ACL change before answering; with an ACL file (the local store's Redis) so do we.
      if (name === "ACL" && ["SETUSER", "DELUSER"].includes(String(command[1]).toUpperCase())) await persistAcl();
      return { result: translated.loadedSha ?? result };
    } catch (err) {
      return { error: (err as Error).message };
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      // A bug here must still answer, or the client waits forever.
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `ERR internal error: ${err.message}` }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://local");
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "GET" && url.pathname === "/healthz") return send(200, { result: "OK" });
    const conn = await connectionFor(req, url);
    if (!conn) return send(401, { error: "Unauthorized" });
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw.length ? JSON.parse(raw) : undefined;
    } catch {
      return send(400, { error: "ERR failed to parse command: the body is not valid JSON" });
    }
    const encode = (r: { result: RedisValue } | { error: string }) => ("error" in r ? r : { result: encodeResult(r.result, base64) });

    if (url.pathname === "/pipeline" || url.pathname === "/multi-exec") {
      if (!Array.isArray(body) || body.length === 0) return send(400, { error: "ERR failed to parse pipeline request: expected an array of commands" });
      const commands = body.map(parseCommand);
      const bad = commands.find((c) => !c.ok);
      if (bad && !bad.ok) return send(400, { error: bad.error });
      const list = commands.map((c) => (c.ok ? c.command : []));
      if (url.pathname === "/pipeline") return send(200, await Promise.all(list.map(async (c) => encode(await run(conn, c)))));
      try {
        const translated = list.map((c) => translateScriptCommand(c.map(String), scripts).command);
        const results = (await translated.reduce((m, c) => m.call(c[0]!, ...c.slice(1)), conn.multi()).exec()) ?? [];
        return send(200, results.map(([err, value]) => encode(err ? { error: err.message } : { result: value as RedisValue })));
      } catch (err) {
        return send(400, { error: (err as Error).message });
      }
    }

    const command = url.pathname === "/" ? parseCommand(body) : parseCommand(url.pathname.split("/").filter(Boolean).map(decodeURIComponent));
    if (!command.ok) return send(400, { error: command.error });
    const result = await run(conn, command.command);
    return "error" in result ? send(400, result) : send(200, encode(result));
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${address.port}`,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      redis.disconnect();
      for (const conn of users.values()) (await conn)?.disconnect();
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
