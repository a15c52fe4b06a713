import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../infra/config/stackFile";
import { applyPendingMigrations } from "../infra/migrations/applyPendingMigrations";
import { lintMigrations } from "../infra/migrations/lintMigrations";
import { loadMigrations } from "../infra/migrations/migrationSource";
import { setTenancyMode } from "../infra/tenancy/rlsModes";
import { requirePostgres } from "../test/postgres";
import { asApp, tenantDatabase, type TenantDatabase } from "../test/tenantFixtures";

/**
 * The two steps of clinic_id's default (issue 17): until phase 2 step 5 it follows the transaction's tenant and is
 * 'legacy' without one; the step-5 migration (prisma/after-legacy-clinic) drops the 'legacy' fallback, so a
 * tenant-less insert fails instead of landing in the legacy clinic.
 */
const STEP5 = path.join(REPO_ROOT, "prisma", "after-legacy-clinic");
let db: TenantDatabase;

beforeAll(async () => {
  await requirePostgres();
  db = await tenantDatabase("legacy-default");
  await asApp(db.url, null, `INSERT INTO clinic (id, name) VALUES ('alpha', 'Alpha') ON CONFLICT DO NOTHING`);
  await setTenancyMode(db.url, "shadow");
});
afterAll(async () => db?.drop());

describe("clinic_id's default", () => {
  it("before step 5: the tenant's in a tenant's transaction, 'legacy' without a tenant (phases 1-2)", async () => {
    await asApp(db.appUrl, "alpha", `INSERT INTO branch (id, name) VALUES ('d-a', 'x')`);
    await asApp(db.appUrl, null, `INSERT INTO branch (id, name) VALUES ('d-none', 'x')`);
    expect((await asApp(db.url, null, `SELECT id, clinic_id FROM branch WHERE id LIKE 'd-%' ORDER BY id`)).rows).toEqual([{ id: "d-a", clinic_id: "alpha" }, { id: "d-none", clinic_id: "legacy" }]);
  });

  it("the step-5 migration is squawk-clean and, applied, refuses a tenant-less insert (23502) while a tenant's still works", async () => {
    const step5 = loadMigrations(STEP5);
    expect(step5.map((m) => m.name)).toEqual(["20261206000000_tenant_default_without_legacy"]);
    expect(lintMigrations(step5)).toEqual([]);
    const all = [...loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), ...step5];
    await applyPendingMigrations(db.url, all, { database: db.database });
    expect((await asApp(db.appUrl, null, `INSERT INTO branch (id, name) VALUES ('e-none', 'x')`)).code).toBe("23502");
    await asApp(db.appUrl, "alpha", `INSERT INTO branch (id, name) VALUES ('e-a', 'x')`);
    expect((await asApp(db.url, null, `SELECT id, clinic_id FROM branch WHERE id LIKE 'e-%'`)).rows).toEqual([{ id: "e-a", clinic_id: "alpha" }]);
  });
});
