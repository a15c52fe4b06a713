import { createHmac, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { Pool } from "pg";
import { isTenantMaintenanceError, isUnknownTenantError, withTenantContext } from "@bloom/tenant-runtime";
import { createTenantGuards, LimiterScriptsMissingError, storeOptionsFromEnv, TenantBudgetExceededError, TenantBusyError } from "@bloom/tenant-runtime/limiter";
import { appDatabase, type AppDatabase } from "./db";

/**
 * What every route needs, made once per process: the database (DATABASE_URL, the stack's appDatabaseUrl), the
 * store guards, and the session check. A dedicated tenant's URL comes from the app's secret store: here a file
 * (BLOOM_TENANT_URLS_FILE, a JSON map tenant → URL, as a mounted secret would be), which the harness fills from each
 * tenant stack's appDatabaseUrl. Read when the router asks — after a move cuts over — so a tenant extracted while
 * the app runs is reached without a restart.
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

let made: { db: AppDatabase; guards: ReturnType<typeof createTenantGuards> } | undefined;
function platform() {
  if (made) return made;
  const secretsFile = process.env.BLOOM_TENANT_URLS_FILE;
  made = {
    db: appDatabase(need("DATABASE_URL"), (tenantId) => {
      const stored = secretsFile && existsSync(secretsFile) ? (JSON.parse(readFileSync(secretsFile, "utf8")) as Record<string, string>) : {};
      const url = stored[tenantId];
      if (!url) throw new CredentialsNotStoredError(tenantId);
      return url;
    }),
    // A clinic holds at most 8 of this instance's requests at once (BLOOM_APP_TENANT_IN_FLIGHT): a flood waits on itself.
    guards: createTenantGuards({ ...storeOptionsFromEnv(), maxInFlightPerTenant: Number(process.env.BLOOM_APP_TENANT_IN_FLIGHT || 8) }),
  };
  return made;
}

/** A session names a clinic and the patient acting in it; signed, so a clinic cannot become another by a header. */
export interface Session {
  clinicId: string;
  patientId: string;
}
const sign = (payload: string) => createHmac("sha256", need("SESSION_SECRET")).update(payload).digest("base64url");
export function sessionCookie(s: Session): string {
  const payload = Buffer.from(JSON.stringify(s)).toString("base64url");
  return `bloom_session=${payload}.${sign(payload)}`;
}
function readSession(cookieHeader: string | null): Session | undefined {
  const raw = cookieHeader?.split(/;\s*/).find((c) => c.startsWith("bloom_session="))?.slice("bloom_session=".length);
  const [payload, sig] = raw?.split(".") ?? [];
  if (!payload || !sig) return undefined;
  const expected = Buffer.from(sign(payload));
  if (expected.length !== Buffer.from(sig).length || !timingSafeEqual(expected, Buffer.from(sig))) return undefined;
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Session;
}

const problem = (status: number, title: string, headers: Record<string, string> = {}) =>
  Response.json({ title, status }, { status, headers: { "content-type": "application/problem+json", ...headers } });

/**
 * Runs one request as its clinic, in its tenant context (Prisma through `db.prisma`, pg through runWithTenant): the
 * session must name the clinic the header names (401/403), the clinic must be known to the platform (404), within
 * its in-flight cap and its budgets (429 + Retry-After), and not in maintenance (503 + Retry-After).
 */
export async function asClinic(req: Request, work: (ctx: { clinicId: string; session: Session; db: AppDatabase; pool: Pool }) => Promise<Response>): Promise<Response> {
  const session = readSession(req.headers.get("cookie"));
  if (!session) return problem(401, "sign in first");
  const clinicId = req.headers.get("x-clinic-id");
  if (clinicId !== session.clinicId) return problem(403, "x-clinic-id is not the clinic of this session");
  const { db, guards } = platform();
  const started = performance.now();
  try {
    return await guards.withTenantSlot(clinicId, async () => {
      await guards.assertTenantBudget(clinicId, session.patientId);
      const limited = performance.now();
      const connection = await db.router.resolveTenantConnection(clinicId);
      const routed = performance.now();
      const res = await withTenantContext(clinicId, () => work({ clinicId, session, db, pool: db.poolFor(connection.url) }));
      // Where the request's time went (browsers' devtools and bench:tenant-load read it).
      res.headers.set("server-timing", `limit;dur=${(limited - started).toFixed(1)}, route;dur=${(routed - limited).toFixed(1)}, work;dur=${(performance.now() - routed).toFixed(1)}`);
      return res;
    });
  } catch (err) {
    if (err instanceof TenantBusyError) return problem(429, "this clinic has too many requests in progress", { "retry-after": "1" });
    if (err instanceof TenantBudgetExceededError) return problem(429, "over this clinic's request budget", { "retry-after": String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))) });
    if (isUnknownTenantError(err)) return problem(404, `clinic ${clinicId} is not known`);
    // The store restarted and forgot the limiter's scripts until the next `up`: this app fails closed.
    if (err instanceof LimiterScriptsMissingError) return problem(503, "rate limiting is unavailable; retry shortly", { "retry-after": "30" });
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
