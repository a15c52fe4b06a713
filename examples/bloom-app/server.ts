import { createServer } from "node:http";
import next from "next";
import { createTenantGuards, storeOptionsFromEnv } from "@bloom/tenant-runtime/limiter";
import { createTenantFrontDoor } from "@bloom/tenant-runtime/front-door";
import { readSession } from "./lib/session";

/**
 * The app's server: Next.js behind the tenant runtime's front door (a Next.js custom server). A request with a valid
 * session for the clinic its `x-clinic-id` names is counted against that clinic's budgets and waits for one of the
 * clinic's slots before Next sees it: a flood's refusals are answered here (most from memory), and a clinic runs at
 * most 2 requests at once on this instance (BLOOM_APP_TENANT_IN_FLIGHT) with up to 64 more waiting
 * (BLOOM_APP_TENANT_QUEUE) — its burst takes turns with its neighbours' requests. Everything else goes straight to
 * Next (sign-in, pages; a missing or foreign session is the route's 401/403).
 *
 *   PORT=3000 HOSTNAME=127.0.0.1 node --import tsx server.ts      (after `next build`)
 */
const port = Number(process.env.PORT || 3000);
const hostname = process.env.HOSTNAME || "127.0.0.1";

const guards = createTenantGuards({
  ...storeOptionsFromEnv(),
  maxInFlightPerTenant: Number(process.env.BLOOM_APP_TENANT_IN_FLIGHT || 2),
  maxQueuedPerTenant: Number(process.env.BLOOM_APP_TENANT_QUEUE || 64),
});
const frontDoor = createTenantFrontDoor({
  guards,
  identify(req) {
    const clinicId = req.headers["x-clinic-id"];
    const session = readSession(req.headers.cookie);
    if (!session || typeof clinicId !== "string" || session.clinicId !== clinicId) return undefined;
    return { tenantId: clinicId, identifier: session.patientId };
  },
});

const app = next({ dev: false, dir: __dirname, hostname, port });
const handle = app.getRequestHandler();

app.prepare().then(() => {
  const server = createServer((req, res) => {
    frontDoor(req, res, () => handle(req, res)).catch((err: unknown) => {
      console.error(err);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.listen(port, hostname, () => console.log(`bloom-app ready on http://${hostname}:${port}`));
  const stop = () => {
    server.close(() => void guards.flushAnalytics().finally(() => process.exit(0)));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5_000).unref(); // requests still open after 5 s are cut
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
});
