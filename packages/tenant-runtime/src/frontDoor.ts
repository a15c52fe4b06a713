import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isUnknownTenantError } from "./routing.js";
import { LimiterScriptsMissingError, TenantBudgetExceededError, TenantBusyError, type TenantGuards } from "./limiter.js";
import { SECURITY_HEADERS } from "./securityHeaders.js";

/**
 * The guards at an instance's front door: a Node HTTP handler that runs before the framework (a Next.js custom
 * server, Express, plain `http`). A request the app can attribute to a tenant is counted against its budgets and
 * waits for one of its slots there; refused, it is answered on the spot — from memory for most of a flood, at a
 * fraction of the cost of routing it through the framework (bench:tenant-load measures both) — and a clinic's burst
 * takes turns with its neighbours' requests before any of it reaches the app's code.
 *
 * What passes carries a per-process proof (`ADMITTED_HEADER`, checked by `wasAdmitted`), so a route can refuse to
 * run unguarded when the app was started without its front door.
 */
export interface FrontDoorOptions {
  guards: TenantGuards;
  /**
   * Who is asking, from what the framework has not parsed yet (headers, URL): the tenant and the identifier to
   * count (a verified session's user, an API key), or undefined to pass the request on uncounted — the route
   * answers it (sign-in, a 401).
   */
  identify(req: IncomingMessage): { tenantId: string; identifier: string } | undefined;
}

export type FrontDoor = (req: IncomingMessage, res: ServerResponse, app: () => unknown) => Promise<void>;

/** The request header that tells a route its request came through the front door (set by it, stripped from clients). */
export const ADMITTED_HEADER = "x-bloom-admitted";

const proofKey = Symbol.for("@bloom/tenant-runtime/front-door-proof");
const holder = globalThis as { [proofKey]?: string };

/** This process's proof, shared by every copy of the runtime a bundler made (one per process, random). */
function proof(): string {
  return (holder[proofKey] ??= `${process.pid}.${randomUUID()}`);
}

/** Whether the request was admitted by this process's front door (the header a client cannot forge). */
export function wasAdmitted(headers: { get(name: string): string | null }): boolean {
  return headers.get(ADMITTED_HEADER)?.split(";")[0] === proof();
}

/** The front door's timings for the request (limit, queue; ms), as it passed them on. */
export function admittedTimings(headers: { get(name: string): string | null }): { limitMs: number; queueMs: number } | undefined {
  const [, limit, queue] = headers.get(ADMITTED_HEADER)?.split(";") ?? [];
  return limit === undefined ? undefined : { limitMs: Number(limit), queueMs: Number(queue) };
}

function refuse(res: ServerResponse, status: number, title: string, retryAfterS?: number): void {
  const body = JSON.stringify({ title, status });
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": "application/problem+json",
    "content-length": Buffer.byteLength(body),
    ...(retryAfterS === undefined ? {} : { "retry-after": String(retryAfterS) }),
  });
  res.end(body);
}

export function createTenantFrontDoor(opts: FrontDoorOptions): FrontDoor {
  return async (req, res, app) => {
    delete req.headers[ADMITTED_HEADER]; // only this process says a request was admitted
    const who = opts.identify(req);
    if (!who) {
      await app();
      return;
    }
    const started = performance.now();
    // Listened for from the start: a client that gives up while its request waits must not keep the slot it gets.
    const over = new Promise<void>((resolve) => res.once("close", resolve));
    try {
      await opts.guards.assertTenantBudget(who.tenantId, who.identifier);
      const limited = performance.now();
      await opts.guards.withTenantSlot(who.tenantId, async () => {
        if (res.destroyed) return; // gone while it waited: its turn passes to the next
        req.headers[ADMITTED_HEADER] = `${proof()};${(limited - started).toFixed(1)};${(performance.now() - limited).toFixed(1)}`;
        // The slot is the tenant's until its answer is out or its client left — not until the framework's handler
        // returns: writing to a socket the client closed, a handler may never return.
        const served = Promise.resolve().then(app);
        served.catch(() => undefined); // failing after its client left: nobody to answer
        await Promise.race([served.then(() => over), over]);
      });
    } catch (err) {
      if (res.headersSent) throw err;
      if (err instanceof TenantBusyError) return refuse(res, 429, "this clinic has too many requests in progress or waiting", Math.ceil(err.retryAfterMs / 1000));
      if (err instanceof TenantBudgetExceededError) return refuse(res, 429, "over this clinic's request budget", Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
      if (isUnknownTenantError(err)) return refuse(res, 404, `clinic ${who.tenantId} is not known`);
      // The store restarted and forgot the limiter's scripts until the next `up`: fail closed.
      if (err instanceof LimiterScriptsMissingError) return refuse(res, 503, "rate limiting is unavailable; retry shortly", 30);
      throw err;
    }
  };
}
