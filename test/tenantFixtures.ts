import path from "node:path";
import { Client, type PoolClient } from "pg";
import { runWithTenant, runWithoutTenant } from "@bloom/tenant-runtime";
import { REPO_ROOT } from "../infra/config/stackFile";
import { ensureAppRole, withCredentials } from "../infra/database/sql/appRole";
import { applyPendingMigrations } from "../infra/migrations/applyPendingMigrations";
import { loadMigrations } from "../infra/migrations/migrationSource";
import { upsertTenantRecord } from "../infra/tenancy/tenantCatalog";
import { freshMigratorDatabase } from "./databases";
import { query } from "./postgres";

/** Three tenants with a full object graph each; ids carry the tenant so a leak is visible in any row. */
export const TENANTS = ["alpha", "beta", "gamma"] as const;
export type TenantId = (typeof TENANTS)[number];
export const TENANT_TABLES = ["user", "branch", "therapist", "patient", "paquete", "appointment", "payment"] as const;

/**
 * A pool database built the way the platform builds it: the app role made first (as the AppRole resource is),
 * the migrations applied, then the role asserted again (what every later AppRole update does).
 */
export async function tenantDatabase(prefix: string, serverUrl?: string) {
  const db = await freshMigratorDatabase(prefix, serverUrl);
  const roleName = `${db.projectId.replace(/-/g, "_")}__bloom_app`;
  const app = await ensureAppRole(db.url, roleName);
  await applyPendingMigrations(db.url, loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), { database: db.database });
  await ensureAppRole(db.url, roleName, app.password);
  return { ...db, appRole: roleName, appUrl: withCredentials(db.url, roleName, app.password) };
}
export type TenantDatabase = Awaited<ReturnType<typeof tenantDatabase>>;

/**
 * A move's two sides: a pool (every tenant pooled in its catalog, the fixed graph seeded, and `bulk.rows` more
 * patients of `bulk.tenant`, ids `<idPrefix><n>`) and an empty database for a dedicated tenant.
 */
export async function moveDatabases(prefix: string, opts: { serverUrl?: string; bulk?: { tenant: TenantId; rows: number; idPrefix: string } } = {}): Promise<{ pool: TenantDatabase; dedicated: TenantDatabase }> {
  const [pool, dedicated] = await Promise.all([tenantDatabase(`${prefix}pool`, opts.serverUrl), tenantDatabase(`${prefix}ded`, opts.serverUrl)]);
  for (const t of TENANTS) await upsertTenantRecord(pool.url, { id: t, name: t, tier: "standard", isolation: "pooled", location: { kind: "pool" } });
  await seedTenants(pool.url);
  if (opts.bulk) {
    await query(pool.url, `INSERT INTO "patient" (id, name, clinic_id) SELECT $1 || i, 'bulk ' || i, $2 FROM generate_series(1, $3::int) i`, [opts.bulk.idPrefix, opts.bulk.tenant, opts.bulk.rows]);
  }
  return { pool, dedicated };
}

/** Replaces every tenant row with the same fixed graph (3 of each per tenant). One round trip. */
export async function seedTenants(target: string | Client): Promise<void> {
  const rows: string[] = [`TRUNCATE "payment", "appointment", "therapist", "patient", "branch", "paquete", "user" CASCADE`];
  for (const t of TENANTS) {
    rows.push(`INSERT INTO "clinic" (id, name) VALUES ('${t}', '${t}') ON CONFLICT DO NOTHING`);
    for (let i = 0; i < 3; i++) {
      const s = `${t}-${i}`;
      rows.push(
        `INSERT INTO "user" (id, email, name, password_hash, clinic_id) VALUES ('u-${s}', '${s}@x', 'u-${s}', 'x', '${t}')`,
        `INSERT INTO "branch" (id, name, clinic_id) VALUES ('b-${s}', 'b-${s}', '${t}')`,
        `INSERT INTO "therapist" (id, name, branch_id, clinic_id) VALUES ('t-${s}', 't-${s}', 'b-${s}', '${t}')`,
        `INSERT INTO "patient" (id, name, clinic_id) VALUES ('p-${s}', 'p-${s}', '${t}')`,
        `INSERT INTO "appointment" (id, patient_id, therapist_id, branch_id, date, hour, clinic_id) VALUES ('a-${s}', 'p-${s}', 't-${s}', 'b-${s}', '2026-12-01', '10:00', '${t}')`,
        `INSERT INTO "payment" (id, appointment_id, patient_id, amount_cents, clinic_id) VALUES ('pay-${s}', 'a-${s}', 'p-${s}', 1000, '${t}')`,
      );
    }
    rows.push(`INSERT INTO "paquete" (id, name, sessions, price_cents, clinic_id) VALUES ('pk-${t}', 'pk-${t}', 5, 5000, '${t}')`);
  }
  if (typeof target === "string") await query(target, rows.join(";\n"));
  else await target.query(rows.join(";\n"));
}

/** md5 of every row of every tenant table (and the clinic row), per `<table>:<tenant>`, as the migrator sees them. */
export async function fingerprint(urlOrClient: string | Client): Promise<Record<string, string>> {
  const sql = [...TENANT_TABLES.map((t) => `SELECT '${t}' AS tbl, clinic_id AS tenant, md5(string_agg(x::text, '|' ORDER BY x::text)) AS h FROM "${t}" x GROUP BY clinic_id`),
    `SELECT 'clinic', id, md5(x::text) FROM "clinic" x`].join(" UNION ALL ");
  const rows = typeof urlOrClient === "string" ? await query<{ tbl: string; tenant: string; h: string }>(urlOrClient, sql) : (await urlOrClient.query<{ tbl: string; tenant: string; h: string }>(sql)).rows;
  return Object.fromEntries(rows.map((r) => [`${r.tbl}:${r.tenant}`, r.h]));
}

/** The entries of a fingerprint that belong to tenants other than `actingTenant` (all of them when it is null). */
export function othersOf(fp: Record<string, string>, actingTenant: string | null): Record<string, string> {
  return Object.fromEntries(Object.entries(fp).filter(([k]) => actingTenant === null || !k.endsWith(`:${actingTenant}`)));
}

/** Runs SQL as the app role in one unit of work (runWithTenant, or no tenant); returns the last result's rows or the error code. */
export async function asApp(appUrl: string, tenant: string | null, sql: string, params: unknown[] = []): Promise<{ rows: Record<string, unknown>[]; code?: undefined } | { rows?: undefined; code: string }> {
  const client = new Client({ connectionString: appUrl, application_name: "bloom-attacker" });
  await client.connect();
  try {
    return await onApp(client, tenant, sql, params);
  } finally {
    await client.end();
  }
}

/** asApp on a connected client. */
export async function onApp(client: Client, tenant: string | null, sql: string, params: unknown[] = []): Promise<{ rows: Record<string, unknown>[]; code?: undefined } | { rows?: undefined; code: string }> {
  // Several statements (simple protocol) give one result each: the last one is the answer.
  const work = async (c: Client | PoolClient) => {
    const res = (await c.query(sql, params.length ? params : undefined)) as unknown as { rows: Record<string, unknown>[] } | { rows: Record<string, unknown>[] }[];
    return { rows: Array.isArray(res) ? res[res.length - 1]!.rows : res.rows };
  };
  try {
    return await (tenant ? runWithTenant(client, tenant, work) : runWithoutTenant(client, work));
  } catch (err) {
    return { code: (err as { code?: string }).code ?? (err as Error).message };
  }
}
