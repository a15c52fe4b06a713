import type { Client } from "pg";
import { withTransaction } from "../database/sql/withClient";

const APPLICATION = "bloom-tenant-catalog";
import { quoteIdent } from "../naming";
import { tenantDataTables } from "./tenantPolicies";

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

export async function upsertTenantRecord(migratorUrl: string, t: TenantRecord): Promise<void> {
  await withTransaction(migratorUrl, async (c) => {
    // A pooled tenant's clinic row lives in the pool; a dedicated tenant's lives in its own database.
    if (t.isolation === "pooled") {
      await c.query(`INSERT INTO "public"."clinic" ("id", "name", "tier") VALUES ($1, $2, $3) ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name", "tier" = EXCLUDED."tier"`, [t.id, t.name, t.tier]);
    }
    await c.query(
      `INSERT INTO "bloom_platform"."tenants" ("id", "isolation", "location") VALUES ($1, $2, $3)
       ON CONFLICT ("id") DO UPDATE SET "isolation" = EXCLUDED."isolation", "location" = EXCLUDED."location", "updated_at" = now()`,
      [t.id, t.isolation, JSON.stringify(t.location)],
    );
  }, APPLICATION);
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
