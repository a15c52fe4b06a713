import type { Client } from "pg";
import { withTransaction } from "../database/sql/withClient";
import { quoteIdent } from "../naming";
import { tenantDataTables } from "./tenantPolicies";

const APPLICATION = "bloom-tenant-catalog";

/**
 * The tenant catalog (`bloom_platform.tenants`, migration 20261202000000) and each tenant's clinic row, written by
 * the migrator on `up`. Config is the desired state: a declared tenant gets both rows; a tenant taken out of config
 * loses them, unless it still holds data, which is refused with the way forward.
 */
export interface TenantRecord {
  id: string;
  name: string;
  tier: string;
  isolation: "pooled" | "dedicated";
  /** Where its rows live: the pool, or a dedicated project (its tenant stack). */
  location: { kind: "pool" } | { kind: "dedicated"; stack: string; project: string };
}

/**
 * Writes a declared tenant's catalog row (and, pooled, its clinic row). Where its data lives changes only through a
 * move: while one is in progress the move owns the location; a declared isolation that differs from where the data
 * is (and the tenant holds rows there) is refused, naming the command that moves it.
 */
export async function upsertTenantRecord(migratorUrl: string, t: TenantRecord): Promise<void> {
  await withTransaction(migratorUrl, async (c) => {
    const current = (await c.query<{ isolation: string; moving: boolean }>(
      `SELECT "isolation", "move" IS NOT NULL AS moving FROM "bloom_platform"."tenants" WHERE "id" = $1 FOR UPDATE`, [t.id])).rows[0];
    if (current?.moving) return;
    if (current && current.isolation !== t.isolation) {
      const holds = current.isolation === "dedicated" ? undefined : await tenantRowCount(c, t.id);
      if (holds !== 0) {
        throw new Error(current.isolation === "pooled"
          ? `tenant "${t.id}" is declared dedicated but its ${holds} rows are in the pool: move them with \`bloom tenants extract ${t.id}\` (it sets isolation: dedicated itself), or declare it pooled again`
          : `tenant "${t.id}" is declared pooled but its data is in its dedicated database: bring it back with \`bloom tenants return ${t.id}\` (it sets isolation: pooled itself), or declare it dedicated again`);
      }
    }
    // A pooled tenant's clinic row lives in the pool; a dedicated tenant's lives in its own database.
    if (t.isolation === "pooled") {
      await writeClinicRow(c, t);
    }
    await c.query(
      `INSERT INTO "bloom_platform"."tenants" ("id", "isolation", "location") VALUES ($1, $2, $3)
       ON CONFLICT ("id") DO UPDATE SET "isolation" = EXCLUDED."isolation", "location" = EXCLUDED."location", "updated_at" = now()`,
      [t.id, t.isolation, JSON.stringify(t.location)],
    );
  }, APPLICATION);
}

/** The tenant's clinic row, written here for both homes (the pool, or its own database): name and tier kept current. */
async function writeClinicRow(c: Client, t: Pick<TenantRecord, "id" | "name" | "tier">): Promise<void> {
  await c.query(`INSERT INTO "public"."clinic" ("id", "name", "tier") VALUES ($1, $2, $3) ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name", "tier" = EXCLUDED."tier"`, [t.id, t.name, t.tier]);
}

/** Rows the tenant holds in this database's tenant tables (its clinic row not counted). */
export async function tenantRowCount(c: Client, tenantId: string): Promise<number> {
  const tables = await tenantDataTables(c);
  if (!tables.length) return 0;
  const { rows } = await c.query<{ n: string }>(`SELECT (${tables.map((t) => `(SELECT count(*) FROM "public".${quoteIdent(t)} WHERE "clinic_id" = $1)`).join(" + ")}) AS n`, [tenantId]);
  return Number(rows[0]!.n);
}

/** Takes a tenant out of the catalog and its clinic row out of the pool; refused while it still holds rows there. */
export async function removeTenantRecord(migratorUrl: string, tenantId: string, opts: { refuseIfHoldsData: boolean } = { refuseIfHoldsData: true }): Promise<void> {
  await withTransaction(migratorUrl, async (c) => {
    if (opts.refuseIfHoldsData) {
      const held = await tenantRowCount(c, tenantId);
      if (held > 0) {
        throw new Error(`tenant "${tenantId}" still holds ${held} rows in this database: removing it from bloom:tenants would orphan them. ` +
          "Declare it again, and take it out only once it has been offboarded (export, then purge: `bloom tenants offboard`)");
      }
      await c.query(`DELETE FROM "public"."clinic" WHERE "id" = $1`, [tenantId]);
    }
    // Unguarded (the local stack's destroy): rows may still reference the clinic, and the database goes next anyway.
    await c.query(`DELETE FROM "bloom_platform"."tenants" WHERE "id" = $1`, [tenantId]);
  }, APPLICATION);
}

/**
 * A dedicated database holds exactly its tenant: its clinic row is written (name and tier kept current), and the
 * baseline migration's seeded `legacy` clinic is removed while nothing references it. (Its `clinic_id DEFAULT
 * 'legacy'` columns then make an insert without a clinic fail on the foreign key instead of landing elsewhere.)
 */
export async function provisionDedicatedClinic(migratorUrl: string, t: Pick<TenantRecord, "id" | "name" | "tier">): Promise<void> {
  await withTransaction(migratorUrl, async (c) => {
    await writeClinicRow(c, t);
    if (t.id !== "legacy" && (await tenantRowCount(c, "legacy")) === 0) await c.query(`DELETE FROM "public"."clinic" WHERE "id" = 'legacy'`);
  }, APPLICATION);
}

/** Takes the clinic row out of a dedicated database being destroyed; refused while the tenant still holds rows there. */
export async function removeDedicatedClinic(migratorUrl: string, tenantId: string, opts: { refuseIfHoldsData: boolean }): Promise<void> {
  await withTransaction(migratorUrl, async (c) => {
    const held = await tenantRowCount(c, tenantId);
    if (opts.refuseIfHoldsData && held > 0) {
      throw new Error(`tenant "${tenantId}" still holds ${held} rows in its dedicated database: return it to the pool (\`bloom tenants return\`) or offboard it (\`bloom tenants offboard\`) before destroying its stack`);
    }
    if (held === 0) await c.query(`DELETE FROM "public"."clinic" WHERE "id" = $1`, [tenantId]);
  }, APPLICATION);
}
