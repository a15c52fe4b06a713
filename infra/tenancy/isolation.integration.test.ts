import fc from "fast-check";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { relaxRowLevelSecurity, restoreRowLevelSecurity, setTenancyMode, tenantlessAccessCounts, type TenancyMode } from "./rlsModes";
import { tenantPolicySql } from "./tenantPolicies";
import { query, requirePostgres } from "../../test/postgres";
import { TENANTS, fingerprint, onApp, othersOf, seedTenants, tenantDatabase, type TenantDatabase, type TenantId } from "../../test/tenantFixtures";

/**
 * A randomized isolation suite on real Postgres with the reference schema. Random sequences of operations run
 * through the RLS-bound app role, each in its own unit of work (runWithTenant, or no tenant), as tenant alpha, beta,
 * gamma or nobody, in enforce or shadow mode: select, update, delete, a change of clinic_id, an insert into any
 * tenant table whose parents belong to the acting tenant or (adversarially) to another one, and reads and writes of
 * the clinic table. After every operation the rows of every tenant other than the acting one are
 * fingerprint-identical, and each operation's result is what the boundary allows.
 *
 * A fresh seed per run, printed; replay with BLOOM_ISOLATION_SEED=<seed>. BLOOM_ISOLATION_RUNS sets the number of
 * sequences (CI default 200).
 */
const SEED = Number(process.env.BLOOM_ISOLATION_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.BLOOM_ISOLATION_RUNS ?? 200);
const TOUCH: Record<string, string> = { user: "name", branch: "name", therapist: "name", patient: "name", paquete: "name", appointment: "status", payment: "currency" };
const TABLES = Object.keys(TOUCH);

/** An insert into `table` for clinic `forTenant` whose references point at `parentsOf`'s rows. */
function insertSql(table: string, id: string, forTenant: string, parentsOf: string): { sql: string; params: unknown[] } {
  const p = `${parentsOf}-0`;
  const sql: Record<string, string> = {
    user: `INSERT INTO "user" (id, email, name, password_hash, clinic_id) VALUES ($1, $1, $1, 'x', $2)`,
    branch: `INSERT INTO "branch" (id, name, clinic_id) VALUES ($1, $1, $2)`,
    patient: `INSERT INTO "patient" (id, name, clinic_id) VALUES ($1, $1, $2)`,
    paquete: `INSERT INTO "paquete" (id, name, sessions, price_cents, clinic_id) VALUES ($1, $1, 1, 1, $2)`,
    therapist: `INSERT INTO "therapist" (id, name, branch_id, clinic_id) VALUES ($1, $1, 'b-${p}', $2)`,
    appointment: `INSERT INTO "appointment" (id, patient_id, therapist_id, branch_id, paquete_id, date, hour, clinic_id) VALUES ($1, 'p-${p}', 't-${p}', 'b-${p}', 'pk-${parentsOf}', '2026-12-03', '11:00', $2)`,
    payment: `INSERT INTO "payment" (id, appointment_id, patient_id, amount_cents, clinic_id) VALUES ($1, 'a-${p}', 'p-${p}', 5, $2)`,
  };
  return { sql: sql[table]!, params: [id, forTenant] };
}
const HAS_PARENTS = new Set(["therapist", "appointment", "payment"]);

/** The rows an insert into `table` with parents of `parentsOf` references, as `[table, id]`. */
function parentRows(table: string, parentsOf: string): [string, string][] {
  const p = `${parentsOf}-0`;
  if (table === "therapist") return [["branch", `b-${p}`]];
  if (table === "appointment") return [["patient", `p-${p}`], ["therapist", `t-${p}`], ["branch", `b-${p}`], ["paquete", `pk-${parentsOf}`]];
  if (table === "payment") return [["appointment", `a-${p}`], ["patient", `p-${p}`]];
  return [];
}

/**
 * Whether every row the insert references belongs to `clinic` right now, as the migrator sees it. Usually true when
 * the parents are the acting tenant's own; false after a tenant-less write in shadow mode (allowed there) moved
 * or deleted one of them — then the composite foreign key must refuse the insert.
 */
async function parentsBelongTo(migrator: Client, table: string, parentsOf: string, clinic: string): Promise<boolean> {
  for (const [parent, id] of parentRows(table, parentsOf)) {
    const { rows } = await migrator.query(`SELECT 1 FROM "${parent}" WHERE id = $1 AND clinic_id = $2`, [id, clinic]);
    if (rows.length === 0) return false;
  }
  return true;
}

const tenant = fc.constantFrom<TenantId>(...TENANTS);
const op = fc.record({
  as: fc.option(tenant, { nil: null, freq: 4 }),
  kind: fc.constantFrom("select", "update", "delete", "move", "insert", "insert", "clinic-read", "clinic-write"),
  table: fc.constantFrom(...TABLES),
  other: tenant,
  parents: tenant,
  n: fc.integer({ min: 0, max: 1_000_000 }),
});
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

async function perform(app: Client, o: Op) {
  const t = `"${o.table}"`;
  switch (o.kind) {
    case "select": return onApp(app, o.as, `SELECT clinic_id FROM ${t}`);
    // Suffixed with the id: a column can be unique per clinic (paquete.name), and the update must not trip on that.
    case "update": return onApp(app, o.as, `UPDATE ${t} SET "${TOUCH[o.table]}" = $1 || id RETURNING clinic_id`, [`touched-${o.n}-`]);
    case "delete": return onApp(app, o.as, `DELETE FROM ${t} WHERE id LIKE '%-2' OR id LIKE 'new-%' RETURNING clinic_id`);
    case "move": return onApp(app, o.as, `UPDATE ${t} SET clinic_id = $1 RETURNING clinic_id`, [o.other]);
    case "insert": {
      const { sql, params } = insertSql(o.table, `new-${o.n}-${Math.random().toString(36).slice(2)}`, o.other, o.parents);
      return onApp(app, o.as, sql, params);
    }
    case "clinic-read": return onApp(app, o.as, `SELECT id AS clinic_id FROM "clinic"`);
    default: return onApp(app, o.as, `UPDATE "clinic" SET tier = 'enterprise' WHERE id = $1`, [o.other]);
  }
}

/** What the boundary allows for one operation (mode, acting tenant), given its result. */
function checkResult(mode: TenancyMode, o: Op, res: Awaited<ReturnType<typeof perform>>, parentsIntact: boolean) {
  const what = `${o.kind} ${o.table} as ${o.as ?? "nobody"} (other ${o.other}, parents ${o.parents}) in ${mode}`;
  const rows = res.rows ?? [];
  if (o.kind === "clinic-write") return expect(res.code, what).toBe("42501"); // clinic rows are the platform's
  if (o.as === null && mode === "shadow") return; // allowed, and counted (tested below)
  if (["select", "update", "delete", "clinic-read"].includes(o.kind)) {
    // Deleting one's own parent row that one's own children still reference: refused by the foreign key.
    if (o.kind === "delete" && res.code === "23503" && o.as !== null) return;
    expect(res.code, what).toBeUndefined();
    if (o.as === null) expect(rows, what).toEqual([]);
    else expect(rows.every((r) => r.clinic_id === o.as), what).toBe(true);
    return;
  }
  if (o.kind === "move") {
    if (o.as === null) return expect(rows, what).toEqual([]);
    if (o.other === o.as) return;
    // Moving a row to another clinic: refused by the policy's WITH CHECK (unless the tenant has no row to move).
    if (res.code === undefined) return expect(rows, what).toEqual([]);
    return expect(res.code, what).toBe("42501");
  }
  // insert
  if (o.as !== null && o.other === o.as && (o.parents === o.as || !HAS_PARENTS.has(o.table))) return expect(res.code, what).toBe(parentsIntact ? undefined : "23503");
  if (o.as === null || o.other !== o.as) return expect(res.code, what).toBe("42501"); // new row violates row-level security
  expect(res.code, what).toBe("23503"); // a reference to another clinic's row does not exist for this clinic
}

describe("tenant isolation through the app role (randomized, real Postgres)", () => {
  let db: TenantDatabase;
  let app: Client;
  let migrator: Client;

  beforeAll(async () => {
    await requirePostgres();
    db = await tenantDatabase("iso");
    app = new Client({ connectionString: db.appUrl, application_name: "bloom-isolation" });
    migrator = new Client({ connectionString: db.url, application_name: "bloom-isolation-check" });
    await Promise.all([app.connect(), migrator.connect()]);
  });
  afterAll(async () => {
    await Promise.all([app?.end(), migrator?.end()]);
    await db?.drop();
  });

  it(`${RUNS} random sequences in both modes: nothing of another tenant is read, changed or created (seed printed)`, async () => {
    console.log(`isolation suite: seed ${SEED}, ${RUNS} sequences (replay: BLOOM_ISOLATION_SEED=${SEED})`);
    let mode: TenancyMode | undefined;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<TenancyMode>("enforce", "shadow"), fc.array(op, { minLength: 1, maxLength: 8 }), async (m, ops) => {
        if (m !== mode) await setTenancyMode(db.url, (mode = m));
        await seedTenants(migrator);
        for (const o of ops) {
          const before = othersOf(await fingerprint(migrator), o.as);
          const parentsIntact = o.kind !== "insert" || o.as === null || (await parentsBelongTo(migrator, o.table, o.parents, o.as));
          const res = await perform(app, o);
          const after = othersOf(await fingerprint(migrator), o.as);
          if (o.as !== null || m === "enforce") expect(after, `${o.kind} ${o.table} as ${o.as ?? "nobody"} in ${m} changed another tenant`).toEqual(before);
          checkResult(m, o, res, parentsIntact);
        }
      }),
      { numRuns: RUNS, seed: SEED, verbose: 1 },
    );
  });

  it("shadow mode: tenant-less access is allowed and counted once per table and transaction", async () => {
    await seedTenants(migrator);
    await setTenancyMode(db.url, "shadow");
    const before = await tenantlessAccessCounts(db.url);
    const all = await onApp(app, null, `SELECT clinic_id FROM "patient"; SELECT clinic_id FROM "patient"`);
    expect(new Set(all.rows!.map((r) => r.clinic_id))).toEqual(new Set(TENANTS));
    await onApp(app, null, `INSERT INTO "branch" (id, name, clinic_id) VALUES ('shadow-b', 'x', 'alpha')`);
    expect((await onApp(app, "beta", `SELECT DISTINCT clinic_id FROM "patient"`)).rows).toEqual([{ clinic_id: "beta" }]);
    const after = await tenantlessAccessCounts(db.url);
    expect((after.patient ?? 0) - (before.patient ?? 0)).toBe(1);
    expect((after.branch ?? 0) - (before.branch ?? 0)).toBe(1);
  });

  it("relax disables RLS (the rollback lever); restore re-creates exactly the migrations' policies from code", async () => {
    await seedTenants(migrator);
    await setTenancyMode(db.url, "enforce");
    const policies = async () => query<{ tablename: string; policyname: string; cmd: string; permissive: string; roles: string[]; qual: string; with_check: string }>(
      db.url, "SELECT tablename, policyname, cmd, permissive, roles, qual, with_check FROM pg_policies WHERE schemaname = 'public' ORDER BY 1, 2");
    const fromMigrations = await policies();
    expect(fromMigrations.map((p) => p.tablename)).toEqual(["appointment", "branch", "clinic", "paquete", "patient", "payment", "therapist", "user"]);
    await relaxRowLevelSecurity(db.url);
    expect((await onApp(app, null, `SELECT count(*)::int AS n FROM "patient"`)).rows).toEqual([{ n: 9 }]); // no RLS: the app sees all
    await relaxRowLevelSecurity(db.url); // idempotent
    for (const p of fromMigrations) await query(db.url, `DROP POLICY "${p.policyname}" ON "${p.tablename}"`);
    await restoreRowLevelSecurity(db.url);
    expect(await policies()).toEqual(fromMigrations);
    expect(tenantPolicySql("patient")).toContain(`"public"."bloom_tenantless_allowed"('patient')`);
    expect((await onApp(app, null, `SELECT count(*)::int AS n FROM "patient"`)).rows).toEqual([{ n: 0 }]);
    const forced = await query<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM pg_class WHERE relname = ANY($1) AND relnamespace = 'public'::regnamespace AND relrowsecurity AND relforcerowsecurity", [[...TABLES, "clinic"]]);
    expect(forced[0]!.n).toBe(TABLES.length + 1);
  });
});
