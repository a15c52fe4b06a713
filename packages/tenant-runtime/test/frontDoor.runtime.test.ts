import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SECURITY_HEADERS } from "@bloom/tenant-runtime";
import { createTenantGuards } from "@bloom/tenant-runtime/limiter";
import { ADMITTED_HEADER, createTenantFrontDoor, wasAdmitted } from "@bloom/tenant-runtime/front-door";
import { writeTenantBudget } from "../../../infra/kv/budgetStore";
import { adminCommand, ensureAppKvAccess } from "../../../infra/kv/appAccess";
import { startTestEndpoint } from "../../../test/redis";

/**
 * The front door (createTenantFrontDoor) on a plain Node HTTP server, as an app's custom server mounts it, against the
 * local Upstash-compatible endpoint with the app's scoped tokens; requests over real sockets.
 */
let endpoint: Awaited<ReturnType<typeof startTestEndpoint>>;
let access: Awaited<ReturnType<typeof ensureAppKvAccess>>;
const prefix = `rt-door-${Date.now().toString(36)}:`;
const servers: Server[] = [];

beforeAll(async () => {
  endpoint = await startTestEndpoint();
  access = await ensureAppKvAccess(endpoint.server.url, endpoint.token, prefix, `bloom-app-door-${Date.now().toString(36)}`);
  await writeTenantBudget(endpoint.redis, prefix, "alpha", { requests: 2, window: "1 m" });
  await writeTenantBudget(endpoint.redis, prefix, "beta", { requests: 1000, window: "1 m" });
});
afterAll(async () => {
  for (const s of servers) s.closeAllConnections(), s.close();
  await adminCommand(endpoint.server.url, endpoint.token, ["ACL", "DELUSER", access.readerUser, access.limiterUser]).catch(() => undefined);
  await endpoint?.server.close();
});

/** A server whose app answers 200 with what it saw, or waits on `hold` for paths under /slow. */
async function serve(hold?: Promise<void>) {
  const guards = createTenantGuards({ url: endpoint.server.url, readToken: access.readToken, limiterToken: access.limiterToken, prefix, maxInFlightPerTenant: 1, maxQueuedPerTenant: 1 });
  const door = createTenantFrontDoor({
    guards,
    // The test's "session": x-tenant and x-user headers (an app verifies a signed one).
    identify: (req) => (typeof req.headers["x-tenant"] === "string" ? { tenantId: req.headers["x-tenant"], identifier: String(req.headers["x-user"]) } : undefined),
  });
  const seen: string[] = [];
  const server = createServer((req, res) => {
    void door(req, res, async () => {
      seen.push(req.url!);
      if (req.url!.startsWith("/slow")) await hold;
      const admitted = wasAdmitted({ get: (n) => (req.headers[n] as string | undefined) ?? null });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ admitted }));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, guards };
}

const get = (url: string, headers: Record<string, string>) => fetch(url, { headers }).then(async (res) => ({ status: res.status, headers: res.headers, body: (await res.json()) as { admitted?: boolean; title?: string } }));

describe("the front door: the guards before the framework", () => {
  it("counts the tenant's requests: within budget the app runs and knows it was admitted; over it, 429 with Retry-After and the security headers, the app never called", async () => {
    const app = await serve();
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await get(`${app.url}/a${i}`, { "x-tenant": "alpha", "x-user": "u1" }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers[0]!.body.admitted).toBe(true);
    expect(Number(answers[2]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) expect(answers[2]!.headers.get(k)).toBe(v);
    expect(answers[2]!.body.title).toMatch(/over this clinic's request budget/);
    expect(app.seen).toEqual(["/a0", "/a1"]);
  });

  it("an unknown tenant is 404 there; a request it cannot attribute passes on uncounted, and a client's own admitted header is not believed", async () => {
    const app = await serve();
    expect((await get(`${app.url}/x`, { "x-tenant": "nobody", "x-user": "u1" })).status).toBe(404);
    const forged = await get(`${app.url}/open`, { [ADMITTED_HEADER]: "1.forged;0;0" });
    expect(forged).toMatchObject({ status: 200, body: { admitted: false } });
    expect(app.seen).toEqual(["/open"]);
  });

  it("a tenant's turn: one at a time here, one waiting, the next refused as busy; a neighbour passes meanwhile", async () => {
    let release!: () => void;
    const app = await serve(new Promise<void>((r) => (release = r)));
    const first = get(`${app.url}/slow-1`, { "x-tenant": "beta", "x-user": "u1" });
    await new Promise((r) => setTimeout(r, 200));
    const second = get(`${app.url}/after-1`, { "x-tenant": "beta", "x-user": "u2" });
    await new Promise((r) => setTimeout(r, 200));
    const third = await get(`${app.url}/refused`, { "x-tenant": "beta", "x-user": "u3" });
    expect(third.status).toBe(429);
    expect(third.body.title).toMatch(/too many requests in progress or waiting/);
    expect((await get(`${app.url}/neighbour`, { "x-tenant": "alpha", "x-user": "u9" })).status).toBe(200);
    expect(app.seen).toEqual(["/slow-1", "/neighbour"]);
    release();
    expect([(await first).status, (await second).status]).toEqual([200, 200]);
    expect(app.seen).toEqual(["/slow-1", "/neighbour", "/after-1"]);
  });

  it("a client that leaves gives its slot back, running or waiting, even when the app's handler never returns", async () => {
    const app = await serve(new Promise<void>(() => undefined)); // /slow never answers
    const leaveAfter = (path: string, ms: number) => new Promise<void>((resolve) => {
      const req = httpRequest(`${app.url}${path}`, { headers: { "x-tenant": "beta", "x-user": "u1" } });
      req.on("error", () => resolve());
      req.end();
      setTimeout(() => (req.destroy(), resolve()), ms);
    });
    // The waiting one leaves first (while the other still runs), then the running one.
    await Promise.all([leaveAfter("/slow-running", 400), new Promise((r) => setTimeout(r, 100)).then(() => leaveAfter("/slow-waiting", 150))]);
    await new Promise((r) => setTimeout(r, 100));
    // Both slots given back: the tenant is served again, and the one that waited never reached the app.
    expect((await get(`${app.url}/back`, { "x-tenant": "beta", "x-user": "u1" })).status).toBe(200);
    expect(app.seen).toEqual(["/slow-running", "/back"]);
  });
});
