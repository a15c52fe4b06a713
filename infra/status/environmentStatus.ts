import type { Redis } from "@upstash/redis";
import type { DatabaseBackend } from "../database/backend";
import { withClient } from "../database/sql/withClient";
import type { PlatformConfig } from "../config/schema";
import type { Migration } from "../migrations/migrationSource";
import { isApplied, readMigrationRecords } from "../migrations/prismaMigrationsTable";
import { analyticsKey, totalAnalyticsKey } from "@bloom/tenant-runtime/limiter";
import { readTenancyMode, readTenantlessAccess, type TenancyMode } from "../tenancy/rlsModes";
import { tenantDataTables } from "../tenancy/tenantPolicies";
import { quoteIdent, tenantStackName } from "../naming";
import { appRoleDrift, type AppRoleDrift } from "../database/sql/appRole";

/**
 * What on-call looks at first (`bloom status`): per tenant where its data lives and how much, rate-limit rejections
 * in the current minute; for the environment the RLS mode, tenant-less accesses, migrations and snapshots. Read
 * from the real database, store and branch backend — nothing here is a cached copy.
 */
export interface TenantStatus {
  id: string;
  name: string;
  tier: string;
  isolation: string;
  location: string;
  rows: number;
  rejectedThisHour: number;
}

export interface EnvironmentStatus {
  stack: string;
  environment: string;
  tenancyMode: TenancyMode;
  tenantlessAccess: Record<string, number>;
  migrations: { lastApplied: string | null; applied: number; pending: string[] };
  snapshots: { name: string; createdAt: string; expiresAt: string | null }[];
  tenants: TenantStatus[];
  /** Moves between pool and dedicated databases: none until the tenant catalog records them. */
  movesInFlight: never[];
  totals: { tenants: number; rows: number; rejectedThisHour: number; tenantlessAccess: number };
  /** How the app role differs from what the last `up` applied (settings, a password the app changed): [] = none. */
  appRoleDrift: string[] | null;
}

export interface StatusSources {
  stack: string;
  config: PlatformConfig;
  migratorUrl: string;
  /** The store with the admin token (reads the limiter's analytics). */
  store: { redis: Redis; prefix: string };
  backend: DatabaseBackend;
  projectId: string;
  migrations: Migration[];
  /** The app role and its pooled URL (the stack's appDatabaseUrl), to check the role against the last `up`. */
  appRole?: { name: string; pooledUrl: string };
  now?: number;
}

export async function collectStatus(src: StatusSources): Promise<EnvironmentStatus> {
  const now = src.now ?? Date.now();
  // One connection for everything the database tells (the --watch loop asks every 5 s).
  const { rowsByTenant, records, tenancyMode, tenantlessAccess } = await withClient(src.migratorUrl, async (c) => {
    const tables = await tenantDataTables(c);
    const counts = tables.length
      ? (await c.query<{ clinic_id: string; n: string }>(tables.map((t) => `SELECT clinic_id, count(*) AS n FROM "public".${quoteIdent(t)} GROUP BY clinic_id`).join(" UNION ALL "))).rows
      : [];
    const rowsByTenant = new Map<string, number>();
    for (const r of counts) rowsByTenant.set(r.clinic_id, (rowsByTenant.get(r.clinic_id) ?? 0) + Number(r.n));
    return { rowsByTenant, records: await readMigrationRecords(c), tenancyMode: await readTenancyMode(c), tenantlessAccess: await readTenantlessAccess(c) };
  }, "bloom-status");
  const applied = records.filter(isApplied);
  const appliedNames = new Set(applied.map((r) => r.migration_name));
  const rejected = await rejectionsThisHour(src.store, src.config.tenants.map((t) => t.id), now);
  const tenants: TenantStatus[] = src.config.tenants.map((t, i) => ({
    id: t.id,
    name: t.name,
    tier: t.tier,
    isolation: t.isolation,
    location: t.isolation === "dedicated" ? `own project (stack ${tenantStackName(src.config.environment, t.id)})` : `pool (${src.projectId})`,
    rows: rowsByTenant.get(t.id) ?? 0,
    rejectedThisHour: rejected[i] ?? 0,
  }));
  const snapshots = (await src.backend.listBranches(src.projectId))
    .filter((b) => b.name !== "main")
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .map((b) => ({ name: b.name, createdAt: b.createdAt, expiresAt: b.expiresAt ?? null }));
  return {
    stack: src.stack,
    environment: src.config.environment,
    tenancyMode,
    tenantlessAccess,
    migrations: { lastApplied: applied.at(-1)?.migration_name ?? null, applied: applied.length, pending: src.migrations.map((m) => m.name).filter((n) => !appliedNames.has(n)) },
    snapshots,
    tenants,
    movesInFlight: [],
    appRoleDrift: src.appRole ? (await appRoleDrift(src.migratorUrl, src.appRole.name, src.appRole.pooledUrl)).map(describeDrift) : null,
    totals: {
      tenants: tenants.length,
      rows: tenants.reduce((n, t) => n + t.rows, 0),
      rejectedThisHour: tenants.reduce((n, t) => n + t.rejectedThisHour, 0),
      tenantlessAccess: Object.values(tenantlessAccess).reduce((n, v) => n + v, 0),
    },
  };
}

/**
 * Rejections come from the limiter's own analytics (what `analytics: true` records; the runtime gives those keys a
 * TTL): per tenant, the current hour's sorted sets of `{ identifier, success }` with counts — its identifiers' and
 * its tenant-wide cap's. One round trip.
 */
async function rejectionsThisHour(store: StatusSources["store"], tenantIds: string[], now: number): Promise<number[]> {
  if (!tenantIds.length) return [];
  const p = store.redis.pipeline();
  for (const id of tenantIds) {
    p.zrange(analyticsKey(store.prefix, id, now), 0, -1, { withScores: true });
    p.zrange(totalAnalyticsKey(store.prefix, id, now), 0, -1, { withScores: true });
  }
  const sets = (await p.exec()) as unknown[][];
  const rejected = sets.map((flat) => {
    let n = 0;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const member = flat[i];
      const event = (typeof member === "string" ? JSON.parse(member) : member) as { success?: unknown };
      if (event.success === false) n += Number(flat[i + 1]);
    }
    return n;
  });
  return tenantIds.map((_, i) => rejected[2 * i]! + rejected[2 * i + 1]!);
}

function describeDrift(d: AppRoleDrift): string {
  return d.kind === "password" ? d.detail : `its settings differ from the platform's (now ${d.actual.map((a) => `${a.database}: ${a.settings.join(" ")}`).join("; ") || "none"})`;
}

/** For a terminal: aligned columns, the environment first. */
export function renderStatus(s: EnvironmentStatus): string {
  const pad = (v: string | number, n: number) => String(v).padEnd(n);
  const lines = [
    `${s.stack} (${s.environment})  RLS mode: ${s.tenancyMode}  tenants: ${s.totals.tenants}  rows: ${s.totals.rows}  rejected this hour: ${s.totals.rejectedThisHour}  tenant-less accesses: ${s.totals.tenantlessAccess}`,
    `migrations: ${s.migrations.applied} applied, last ${s.migrations.lastApplied ?? "none"}; pending: ${s.migrations.pending.length ? s.migrations.pending.join(", ") : "none"}`,
    `snapshots: ${s.snapshots.length ? s.snapshots.map((b) => `${b.name} (expires ${b.expiresAt ?? "never"})`).join(", ") : "none"}`,
    `moves in flight: ${s.movesInFlight.length || "none"}`,
    ...(s.appRoleDrift === null ? [] : [s.appRoleDrift.length ? `app role: DRIFTED — ${s.appRoleDrift.join("; ")}; \`pulumi up\` applies the platform's again` : "app role: as the last `up` applied it"]),
    ...(Object.keys(s.tenantlessAccess).length ? [`tenant-less access by table: ${Object.entries(s.tenantlessAccess).map(([t, n]) => `${t} ${n}`).join(", ")}`] : []),
    "",
    `${pad("tenant", 24)}${pad("tier", 14)}${pad("isolation", 11)}${pad("rows", 10)}${pad("rejected/h", 14)}location`,
    ...s.tenants.map((t) => `${pad(t.id, 24)}${pad(t.tier, 14)}${pad(t.isolation, 11)}${pad(t.rows, 10)}${pad(t.rejectedThisHour, 14)}${t.location}`),
  ];
  return `${lines.join("\n")}\n`;
}
