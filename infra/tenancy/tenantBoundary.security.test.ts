import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getTenancyMode, relaxRowLevelSecurity, restoreRowLevelSecurity, setTenancyMode, tenantlessAccessCounts } from "./rlsModes";
import { runBackfill } from "./backfill";
import { requirePostgres, query } from "../../test/postgres";
import { ensureAppRole } from "../database/sql/appRole";
import { APP_ROLE_SETTINGS } from "../database/sql/appPrivileges";
import { TENANT_TABLES, asApp, fingerprint, othersOf, seedTenants, tenantDatabase, type TenantDatabase } from "../../test/tenantFixtures";

/**
 * The app role is the attacker (issue 9). Each attack runs as the RLS-bound app role against a pool database built
 * as the platform builds it; afterwards the attacked state is read back as the migrator, and every other tenant's
 * rows must be fingerprint-identical to before.
 */
let db: TenantDatabase;

beforeAll(async () => {
  await requirePostgres();
  db = await tenantDatabase("sec");
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await restoreRowLevelSecurity(db.url);
  await setTenancyMode(db.url, "enforce");
  await seedTenants(db.url);
});

async function expectOthersUntouched(actingTenant: string | null, attack: () => Promise<unknown>) {
  const before = othersOf(await fingerprint(db.url), actingTenant);
  await attack();
  expect(othersOf(await fingerprint(db.url), actingTenant)).toEqual(before);
}

describe("defect 1: elevated functions resolve names through the caller's temp schema", () => {
  it("a temp table named like the mode table does not switch enforce mode off", async () => {
    await expectOthersUntouched(null, async () => {
      const res = await asApp(db.appUrl, null, `CREATE TEMP TABLE bloom_tenancy_settings (id boolean, mode text);
        INSERT INTO pg_temp.bloom_tenancy_settings VALUES (true, 'shadow');
        GRANT SELECT ON pg_temp.bloom_tenancy_settings TO PUBLIC;
        SELECT clinic_id FROM "patient"`);
      expect(res.rows ?? []).toEqual([]);
      await asApp(db.appUrl, null, `CREATE TEMP TABLE bloom_tenancy_settings (id boolean, mode text);
        INSERT INTO pg_temp.bloom_tenancy_settings VALUES (true, 'shadow');
        GRANT SELECT ON pg_temp.bloom_tenancy_settings TO PUBLIC;
        UPDATE "patient" SET name = 'owned'`);
    });
  });

  it("the app role cannot create temporary tables at all", async () => {
    expect((await asApp(db.appUrl, "alpha", "CREATE TEMP TABLE scratch (x int)")).code).toBe("42501");
  });

  it("every SECURITY DEFINER function outside the system schemas pins search_path with pg_temp last", async () => {
    const fns = await query<{ fn: string; config: string[] | null }>(db.url, `SELECT p.oid::regprocedure::text AS fn, p.proconfig AS config FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')`);
    expect(fns.length).toBeGreaterThan(0);
    const unsafe = fns.filter((f) => {
      const sp = (f.config ?? []).find((c) => c.startsWith("search_path="));
      if (!sp) return true;
      const parts = sp.slice("search_path=".length).split(",").map((s) => s.trim().replace(/"/g, ""));
      return parts[parts.length - 1] !== "pg_temp" || parts.includes("public") || parts.includes("$user");
    });
    expect(unsafe).toEqual([]);
  });
});

describe("defect 2: the mode row after an AppRole update", () => {
  it("the app cannot write the mode, whatever the table is called", async () => {
    for (const table of ["bloom_tenancy_settings", "bloom_platform.tenancy_settings"]) {
      expect((await asApp(db.appUrl, null, `UPDATE ${table} SET mode = 'shadow'`)).code).toBeDefined();
    }
    expect(await getTenancyMode(db.url)).toBe("enforce");
    expect((await asApp(db.appUrl, null, `SELECT clinic_id FROM "patient"`)).rows).toEqual([]);
  });
});

describe("defect 3: restore runs only code-defined policies", () => {
  it("rows planted by the app while relaxed are never executed by restore", async () => {
    await relaxRowLevelSecurity(db.url);
    for (const table of ["bloom_rls_saved_policies", "bloom_platform.rls_saved_policies"]) {
      await asApp(db.appUrl, null, `INSERT INTO ${table} (table_name, policy_name, definition) VALUES ('patient', 'zz_open', 'CREATE POLICY zz_open ON "patient" USING (true)')`);
      await asApp(db.appUrl, null, `UPDATE ${table} SET definition = 'UPDATE bloom_tenancy_settings SET mode = ''shadow''; ' || definition`);
    }
    await restoreRowLevelSecurity(db.url);
    const policies = await query<{ policyname: string; qual: string }>(db.url, "SELECT policyname, qual FROM pg_policies WHERE schemaname = 'public'");
    expect(policies.map((p) => p.policyname)).not.toContain("zz_open");
    expect(policies.every((p) => p.qual.includes("app.clinic_id"))).toBe(true);
    expect(await getTenancyMode(db.url)).toBe("enforce");
    expect((await asApp(db.appUrl, "alpha", `SELECT DISTINCT clinic_id FROM "patient"`)).rows).toEqual([{ clinic_id: "alpha" }]);
  });
});

describe("defect 4: references stay inside the tenant", () => {
  it("clinic A cannot reference clinic B's rows, and learns nothing from trying", async () => {
    await expectOthersUntouched("alpha", async () => {
      const foreign = await asApp(db.appUrl, "alpha", `INSERT INTO "appointment" (id, patient_id, therapist_id, branch_id, date, hour, clinic_id)
        VALUES ('x-cross', 'p-beta-0', 't-alpha-0', 'b-alpha-0', '2026-12-02', '09:00', 'alpha')`);
      const unknown = await asApp(db.appUrl, "alpha", `INSERT INTO "appointment" (id, patient_id, therapist_id, branch_id, date, hour, clinic_id)
        VALUES ('x-cross', 'p-nobody', 't-alpha-0', 'b-alpha-0', '2026-12-02', '09:00', 'alpha')`);
      expect(foreign.code).toBe("23503");
      expect(unknown.code).toBe(foreign.code); // no existence oracle
      for (const [table, col, value] of [["appointment", "therapist_id", "t-beta-0"], ["appointment", "branch_id", "b-beta-0"], ["therapist", "branch_id", "b-beta-0"], ["payment", "appointment_id", "a-beta-0"], ["payment", "patient_id", "p-beta-0"]] as const) {
        expect((await asApp(db.appUrl, "alpha", `UPDATE "${table}" SET "${col}" = $1 WHERE id LIKE '%alpha-0'`, [value])).code, `${table}.${col}`).toBe("23503");
      }
    });
  });

  it("clinic B can delete its own rows, and a change of B's key never rewrites A's rows", async () => {
    await asApp(db.appUrl, "alpha", `INSERT INTO "payment" (id, patient_id, amount_cents, clinic_id) VALUES ('pay-x', 'p-beta-1', 1, 'alpha')`);
    await query(db.url, `DELETE FROM "payment" WHERE patient_id = 'p-beta-1' AND clinic_id = 'beta'`);
    await query(db.url, `DELETE FROM "appointment" WHERE patient_id = 'p-beta-1'`);
    expect((await asApp(db.appUrl, "beta", `DELETE FROM "patient" WHERE id = 'p-beta-1' RETURNING id`)).rows).toEqual([{ id: "p-beta-1" }]);
    await expectOthersUntouched("beta", async () => {
      await asApp(db.appUrl, "beta", `UPDATE "patient" SET id = 'p-beta-0-renamed' WHERE id = 'p-beta-0'`);
    });
  });
});

describe("defect 5: migration and backfill bookkeeping", () => {
  it("the app cannot record, forge or reopen a migration", async () => {
    const before = await query(db.url, `SELECT * FROM "_prisma_migrations" ORDER BY migration_name`);
    expect((await asApp(db.appUrl, "alpha", `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count) VALUES ('forged', 'x', '29990101000000_future', now(), 1)`)).code).toBe("42501");
    expect((await asApp(db.appUrl, "alpha", `UPDATE "_prisma_migrations" SET finished_at = NULL`)).code).toBe("42501");
    expect((await asApp(db.appUrl, "alpha", `DELETE FROM "_prisma_migrations"`)).code).toBe("42501");
    expect((await asApp(db.appUrl, "alpha", `SELECT * FROM "_prisma_migrations"`)).code).toBe("42501");
    expect(await query(db.url, `SELECT * FROM "_prisma_migrations" ORDER BY migration_name`)).toEqual(before);
  });

  it("the app cannot touch the backfill's progress", async () => {
    await runBackfill({ url: db.url, validate: false });
    for (const table of ["bloom_backfill_progress", "bloom_platform.backfill_progress"]) {
      expect((await asApp(db.appUrl, null, `UPDATE ${table} SET finished_at = NULL`)).code).toBeDefined();
      expect((await asApp(db.appUrl, null, `INSERT INTO ${table} (table_name) VALUES ('forged')`)).code).toBeDefined();
    }
  });
});

describe("defect 6: shadow counting", () => {
  it("a tenant-less session cannot pre-set the per-transaction marker to read uncounted", async () => {
    await setTenancyMode(db.url, "shadow");
    const before = (await tenantlessAccessCounts(db.url)).patient ?? 0;
    const res = await asApp(db.appUrl, null, `SELECT set_config('bloom.tenantless_seen.patient', '1', true); SELECT clinic_id FROM "patient"`);
    expect(res.rows?.length).toBe(9);
    expect(((await tenantlessAccessCounts(db.url)).patient ?? 0) - before).toBe(1);
  });

  it("no counter row for a table that is not a tenant table", async () => {
    await setTenancyMode(db.url, "shadow");
    await asApp(db.appUrl, null, `SELECT bloom_tenantless_allowed('made_up_table')`);
    await asApp(db.appUrl, null, `SELECT bloom_platform.tenantless_allowed('made_up_table')`);
    expect(Object.keys(await tenantlessAccessCounts(db.url))).not.toContain("made_up_table");
  });
});

describe("defect 9: clinic rows are the platform's to write", () => {
  it("the app cannot register a clinic or change its own tier", async () => {
    await expectOthersUntouched("alpha", async () => {
      expect((await asApp(db.appUrl, "mallory", `INSERT INTO "clinic" (id, name) VALUES ('mallory', 'm')`)).code).toBe("42501");
      expect((await asApp(db.appUrl, "alpha", `UPDATE "clinic" SET tier = 'enterprise' RETURNING id`)).code).toBe("42501");
      expect((await asApp(db.appUrl, "alpha", `DELETE FROM "clinic"`)).code).toBe("42501");
    });
    expect(await query(db.url, `SELECT tier FROM "clinic" WHERE id = 'alpha'`)).toEqual([{ tier: "standard" }]);
    expect((await asApp(db.appUrl, "alpha", `SELECT id FROM "clinic"`)).rows).toEqual([{ id: "alpha" }]);
  });
});

describe("attacks of our own", () => {
  it("a tenant cannot move its rows to another tenant or write rows for it", async () => {
    await expectOthersUntouched("alpha", async () => {
      expect((await asApp(db.appUrl, "alpha", `UPDATE "patient" SET clinic_id = 'beta'`)).code).toBe("42501");
      expect((await asApp(db.appUrl, "alpha", `INSERT INTO "patient" (id, name, clinic_id) VALUES ('p-planted', 'x', 'beta')`)).code).toBe("42501");
    });
  });

  it("a tenant switching tenants mid-transaction by set_config still sees only the set tenant, and the platform schema stays closed", async () => {
    const res = await asApp(db.appUrl, "alpha", `SELECT set_config('app.clinic_id', 'beta', true); SELECT DISTINCT clinic_id FROM "patient"`);
    expect(res.rows).toEqual([{ clinic_id: "beta" }]); // the tenant is whoever the app says: authentication is the app's job
    for (const sql of ["CREATE TABLE public.evil (x int)", "CREATE FUNCTION public.evil() RETURNS int LANGUAGE sql AS 'select 1'", "SELECT * FROM bloom_platform.tenancy_settings", "TRUNCATE \"patient\""]) {
      expect((await asApp(db.appUrl, "alpha", sql)).code, sql).toBeDefined();
    }
  });

  it("an online move's change capture is out of reach: the app can neither hide a change from the fence's verification nor read what moved", async () => {
    await query(db.url, `INSERT INTO bloom_platform.move_changes (move, table_name, key, loaded) VALUES ('bloom_move_test', 'patient', '{"id": "p-alpha-0"}', true)`);
    try {
      for (const sql of [
        "DELETE FROM bloom_platform.move_changes", "SELECT * FROM bloom_platform.move_changes",
        `INSERT INTO bloom_platform.move_changes (move, table_name, key, loaded) VALUES ('bloom_move_test', 'patient', '{"id": "x"}', false)`,
        "SELECT bloom_platform.capture_move_change()",
      ]) expect((await asApp(db.appUrl, "alpha", sql)).code, sql).toBe("42501");
      expect(await query(db.url, "SELECT count(*)::int AS n FROM bloom_platform.move_changes")).toEqual([{ n: 1 }]);
    } finally {
      await query(db.url, "DELETE FROM bloom_platform.move_changes WHERE move = 'bloom_move_test'");
    }
  });

  it("shadow mode: a tenant still sees only its own rows; enforce mode: no tenant, no rows, no writes", async () => {
    await setTenancyMode(db.url, "shadow");
    expect((await asApp(db.appUrl, "gamma", `SELECT DISTINCT clinic_id FROM "appointment"`)).rows).toEqual([{ clinic_id: "gamma" }]);
    await setTenancyMode(db.url, "enforce");
    await expectOthersUntouched(null, async () => {
      expect((await asApp(db.appUrl, null, `SELECT * FROM "payment"`)).rows).toEqual([]);
      expect((await asApp(db.appUrl, null, `DELETE FROM "payment" RETURNING id`)).rows).toEqual([]);
      expect((await asApp(db.appUrl, null, `INSERT INTO "branch" (id, name, clinic_id) VALUES ('b-x', 'x', 'alpha')`)).code).toBe("42501");
    });
  });
});

describe("the app role's complete privilege set is the allow-list", () => {
  /** Every privilege the role holds (directly, through PUBLIC or a membership) on this database and its own schemas. */
  async function privilegeSet(role: string): Promise<string[]> {
    const own = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'";
    const rows = await query<{ p: string }>(db.url, `
      SELECT 'database:' || p AS p FROM unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']) p WHERE has_database_privilege($1, current_database(), p)
      UNION ALL SELECT 'schema:' || n.nspname || ':' || p FROM pg_namespace n, unnest(ARRAY['USAGE', 'CREATE']) p WHERE ${own} AND has_schema_privilege($1, n.oid, p)
      UNION ALL SELECT 'table:' || c.oid::regclass::text || ':' || p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
        unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p WHERE ${own} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND has_table_privilege($1, c.oid, p)
      UNION ALL SELECT 'column:' || c.oid::regclass::text || '.' || a.attname || ':' || p FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
        unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p WHERE ${own} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND has_column_privilege($1, c.oid, a.attnum, p)
      UNION ALL SELECT 'sequence:' || c.oid::regclass::text || ':' || p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
        unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) p WHERE ${own} AND c.relkind = 'S' AND has_sequence_privilege($1, c.oid, p)
      UNION ALL SELECT 'function:' || f.oid::regprocedure::text FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace WHERE ${own} AND has_function_privilege($1, f.oid, 'EXECUTE')`, [role]);
    return rows.map((r) => r.p).sort();
  }

  async function allowList(): Promise<string[]> {
    const columns = await query<{ t: string; c: string }>(db.url, `SELECT c.relname AS t, a.attname AS c FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped`, [[...TENANT_TABLES, "clinic"]]);
    const tableName = (t: string) => (t === "user" ? `"user"` : t);
    return [
      "database:CONNECT",
      "schema:public:USAGE",
      ...TENANT_TABLES.flatMap((t) => ["SELECT", "INSERT", "UPDATE", "DELETE"].map((p) => `table:${tableName(t)}:${p}`)),
      "table:clinic:SELECT",
      ...columns.flatMap(({ t, c }) => (t === "clinic" ? ["SELECT"] : ["SELECT", "INSERT", "UPDATE"]).map((p) => `column:${tableName(t)}.${c}:${p}`)),
      "function:bloom_tenancy_mode()",
      "function:bloom_tenant_location(text)",
      "function:bloom_tenantless_allowed(text)",
    ].sort();
  }

  it("after creation and after any number of AppRole updates, compared from the catalogs", async () => {
    expect(await privilegeSet(db.appRole)).toEqual(await allowList());
    for (let i = 0; i < 3; i++) await ensureAppRole(db.url, db.appRole, "unchanged-password-" + i);
    expect(await privilegeSet(db.appRole)).toEqual(await allowList());
    const settings = await query<{ setconfig: string[] }>(db.url, "SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = $1", [db.appRole]);
    expect(settings[0]!.setconfig.sort()).toEqual(Object.entries(APP_ROLE_SETTINGS).map(([k, v]) => `${k}=${v}`).sort());
  });
});
