import { Redis as UpstashRedis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEndpoint } from "../../test/redis";
import type { RunningRestServer } from "./upstashRestServer";

/** The local endpoint speaks Upstash's REST protocol well enough for the official client, over real Redis. */
describe("Upstash-REST-compatible endpoint over real Redis", () => {
  let server: RunningRestServer;
  let token: string;
  let redis: UpstashRedis;
  const key = (k: string) => `test:rest:${process.pid}:${k}`;

  beforeAll(async () => {
    ({ server, token, redis } = await startTestEndpoint());
  });
  afterAll(async () => {
    await server.close();
  });

  it("runs commands through @upstash/redis unchanged (strings, numbers, arrays, null, binary-safe text)", async () => {
    expect(await redis.set(key("a"), "héllo wörld ✓")).toBe("OK");
    expect(await redis.get(key("a"))).toBe("héllo wörld ✓");
    expect(await redis.incr(key("n"))).toBe(1);
    expect(await redis.get(key("missing"))).toBeNull();
    await redis.hset(key("h"), { x: "1", y: "two" });
    expect(await redis.hgetall(key("h"))).toEqual({ x: 1, y: "two" }); // the client parses JSON-looking values
    expect(await redis.ping()).toBe("PONG");
  });

  it("serves /pipeline and /multi-exec", async () => {
    const p = redis.pipeline();
    p.set(key("p1"), "v1");
    p.get(key("p1"));
    p.incr(key("p1")); // fails: not an integer
    await expect(p.exec()).rejects.toThrow(/not an integer/);
    const tx = redis.multi();
    tx.set(key("t1"), "1");
    tx.incr(key("t1"));
    expect(await tx.exec()).toEqual(["OK", 2]);
  });

  it("rejects a wrong or missing token with 401 and Upstash's error shape", async () => {
    const wrong = new UpstashRedis({ url: server.url, token: `${token}x`, enableTelemetry: false, retry: false });
    await expect(wrong.get(key("a"))).rejects.toThrow(/Unauthorized/);
    const res = await fetch(server.url, { method: "POST", body: JSON.stringify(["GET", "k"]) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "Unauthorized" });
  });

  it("answers a malformed command with 400 and { error }", async () => {
    const post = (body: string) => fetch(server.url, { method: "POST", headers: { authorization: `Bearer ${token}` }, body });
    const notArray = await post(JSON.stringify({ cmd: "GET" }));
    expect(notArray.status).toBe(400);
    expect(await notArray.json()).toEqual({ error: expect.stringMatching(/^ERR failed to parse command/) });
    const badJson = await post("[GET");
    expect(badJson.status).toBe(400);
    const wrongArity = await post(JSON.stringify(["GET"]));
    expect(wrongArity.status).toBe(400);
    expect(await wrongArity.json()).toEqual({ error: expect.stringMatching(/wrong number of arguments/i) });
    const unknown = await post(JSON.stringify(["NOSUCHCOMMAND", "x"]));
    expect(await unknown.json()).toEqual({ error: expect.stringMatching(/unknown command/i) });
  });

  it("takes path-style commands and ?_token=", async () => {
    const res = await fetch(`${server.url}/set/${encodeURIComponent(key("path"))}/v?_token=${token}`);
    expect(await res.json()).toEqual({ result: "OK" });
    expect(await redis.get(key("path"))).toBe("v");
  });
});
