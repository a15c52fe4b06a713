import { existsSync, readFileSync } from "node:fs";
import type { Pool } from "pg";
import { isTenantMaintenanceError, isUnknownTenantError, withTenantContext } from "@bloom/tenant-runtime";
import { admittedTimings, wasAdmitted } from "@bloom/tenant-runtime/front-door";
import { appDatabase, type AppDatabase } from "./db";
import { readSession, type Session } from "./session";

/**
 * What every route needs, made once per process: the database (DATABASE_URL, the stack's appDatabaseUrl) and the
 * session check. The budgets and the clinic's turn are the front door's (server.ts), before Next routes anything.
 * A dedicated tenant's URL comes from the app's secret store: here a file (BLOOM_TENANT_URLS_FILE, a JSON map
 * tenant → URL, as a mounted secret would be), which the harness fills from each tenant stack's appDatabaseUrl.
 * Read when the router asks — after a move cuts over — so a tenant extracted while the app runs is reached without
 * a restart.
 */
const need = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (examples/bloom-app/README.md)`);
  return v;
};

/** A tenant now lives in a dedicated database whose URL the secret store does not hold yet (the pipeline copies it). */
class CredentialsNotStoredError extends Error {
  constructor(readonly tenantId: string) {
    super(`no database credentials for dedicated tenant ${tenantId} in the app's secret store (BLOOM_TENANT_URLS_FILE)`);
    this.name = "CredentialsNotStoredError";
  }
}

let db: AppDatabase | undefined;
function database(): AppDatabase {
  const secretsFile = process.env.BLOOM_TENANT_URLS_FILE;
  return (db ??= appDatabase(need("DATABASE_URL"), (tenantId) => {
    const stored = secretsFile && existsSync(secretsFile) ? (JSON.parse(readFileSync(secretsFile, "utf8")) as Record<string, string>) : {};
    const url = stored[tenantId];
    if (!url) throw new CredentialsNotStoredError(tenantId);
    return url;
  }));
}

const problem = (status: number, title: string, headers: Record<string, string> = {}) =>
  Response.json({ title, status }, { status, headers: { "content-type": "application/problem+json", ...headers } });

/**
 * Runs one request as its clinic, in its tenant context (Prisma through `db.prisma`, pg through runWithTenant): the
 * session must name the clinic the header names (401/403), the request must have come through the front door
 * (which counted it against the clinic's budgets and gave it the clinic's turn: 429, 404 there), the clinic not in
 * maintenance (503 + Retry-After).
 */
export async function asClinic(req: Request, work: (ctx: { clinicId: string; session: Session; db: AppDatabase; pool: Pool }) => Promise<Response>): Promise<Response> {
  const session = readSession(req.headers.get("cookie"));
  if (!session) return problem(401, "sign in first");
  const clinicId = req.headers.get("x-clinic-id");
  if (clinicId !== session.clinicId) return problem(403, "x-clinic-id is not the clinic of this session");
  // Started without server.ts (`next start`), nothing counted this request: fail closed rather than run unguarded.
  if (!wasAdmitted(req.headers)) return problem(503, "this instance runs without its front door (start it with server.ts)", { "retry-after": "30" });
  const db = database();
  const started = performance.now();
  try {
    const connection = await db.router.resolveTenantConnection(clinicId);
    const routed = performance.now();
    const res = await withTenantContext(clinicId, () => work({ clinicId, session, db, pool: db.poolFor(connection.url) }));
    // Where the request's time went (browsers' devtools and bench:tenant-load read it).
    const door = admittedTimings(req.headers);
    res.headers.set("server-timing", `limit;dur=${door?.limitMs ?? 0}, queue;dur=${door?.queueMs ?? 0}, route;dur=${(routed - started).toFixed(1)}, work;dur=${(performance.now() - routed).toFixed(1)}`);
    return res;
  } catch (err) {
    if (isUnknownTenantError(err)) return problem(404, `clinic ${clinicId} is not known`);
    // Moved, and its secret not yet where the app reads it: the clinic waits, it does not get an error page.
    if (err instanceof CredentialsNotStoredError) {
      db.router.invalidate(clinicId);
      return problem(503, "this clinic's database is not reachable yet; retry shortly", { "retry-after": "1" });
    }
    if (isTenantMaintenanceError(err)) {
      db.router.invalidate(clinicId); // the move may have cut over: resolve again on the retry
      return problem(503, "this clinic is in maintenance; retry shortly", { "retry-after": "1" });
    }
    throw err;
  }
}
