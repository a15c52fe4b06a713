import fc from "fast-check";
import path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../config/stackFile";
import { applyPendingMigrations } from "../migrations/applyPendingMigrations";
import { loadMigrations } from "../migrations/migrationSource";
import { ensureAppRole, withCredentials } from "../database/sql/appRole";
import { relaxRowLevelSecurity, restoreRowLevelSecurity, setTenancyMode, tenantlessAccessCounts } from "./rlsModes";
import { freshMigratorDatabase } from "../../test/databases";
import { query, requirePostgres } from "../../test/postgres";

/**
 * A randomized isolation suite on real Postgres with the reference schema: random sequences of select / insert /
 * update / delete on every tenant table through the RLS-bound app role, as tenant A, B, C or with no tenant.
 * In enforce mode no row of another tenant is ever read, changed or created, and no tenant means no rows; in shadow
 * mode tenant-less access is allowed and counted. The seed is fixed and printed on failure (fast-check).
 */
const TENANTS = ["alpha", "beta", "gamma"] as const;
const TOUCH: Record<string, string> = { user: "name", branch: "name", therapist: "name", patient: "name", paquete: "name", appointment: "status", payment: "currency" };
const TABLES = Object.keys(TOUCH);
const INSERTABLE = ["user", "branch", "patient", "paquete"];
const SEED = 20261127;

type Db = Awaited<ReturnType<typeof freshMigratorDatabase>>;

async function seed(url: string) {
  await query(url, `TRUNCATE "payment", "appointment", "therapist", "patient", "branch", "paquete", "user" CASCADE`);
  for (const t of TENANTS) {
    await query(url, `INSERT INTO "clinic" (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING`, [t]);
    for (let i = 0; i < 3; i++) {
      const s = `${t}-${i}`;
      await query(url, `INSERT INTO "user" (id, email, name, password_hash, clinic_id) VALUES ($1, $2, $1, 'x', $3)`, [`u-${s}`, `${s}@x`, t]);
      await query(url, `INSERT INTO "branch" (id, name, clinic_id) VALUES ($1, $1, $2)`, [`b-${s}`, t]);
      await query(url, `INSERT INTO "therapist" (id, name, branch_id, clinic_id) VALUES ($1, $1, $2, $3)`, [`t-${s}`, `b-${s}`, t]);
      await query(url, `INSERT INTO "patient" (id, name, clinic_id) VALUES ($1, $1, $2)`, [`p-${s}`, t]);
      await query(url, `INSERT INTO "appointment" (id, patient_id, therapist_id, branch_id, date, hour, clinic_id) VALUES ($1, $2, $3, $4, '2026-12-01', '10:00', $5)`, [`a-${s}`, `p-${s}`, `t-${s}`, `b-${s}`, t]);
      await query(url, `INSERT INTO "payment" (id, appointment_id, patient_id, amount_cents, clinic_id) VALUES ($1, $2, $3, 1000, $4)`, [`pay-${s}`, `a-${s}`, `p-${s}`, t]);
    }
    await query(url, `INSERT INTO "paquete" (id, name, sessions, price_cents, clinic_id) VALUES ($1, $1, 5, 5000, $2)`, [`pk-${t}`, t]);
  }
}

/** Every row of every tenant table, per tenant, as the migrator sees it. */
async function fingerprint(url: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const rows = await query<{ clinic_id: string; r: string }>(url, `SELECT clinic_id, md5(string_agg(t::text, '|' ORDER BY t::text)) AS r FROM "${table}" t GROUP BY clinic_id`);
    for (const row of rows) out[`${table}:${row.clinic_id}`] = row.r;
  }
  return out;
}

const op = fc.record({
  as: fc.constantFrom<(typeof TENANTS)[number] | null>(...TENANTS, null),
  kind: fc.constantFrom("select", "insert", "update", "delete"),
  table: fc.constantFrom(...TABLES),
  insertFor: fc.constantFrom(...TENANTS),
  n: fc.integer({ min: 0, max: 1_000_000 }),
});
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

describe("tenant isolation through the app role (randomized, real Postgres)", () => {
  let db: Db;
  let appUrl: string;

  beforeAll(async () => {
    await requirePostgres();
    db = await freshMigratorDatabase("iso");
    const app = await ensureAppRole(db.url, `${db.projectId.replace(/-/g, "_")}__bloom_app`);
    appUrl = withCredentials(db.url, app.name, app.password);
    await applyPendingMigrations(db.url, loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), { database: db.database });
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function run(client: Client, o: Op): Promise<{ rows?: { clinic_id: string }[]; count?: number; error?: string }> {
    await client.query(o.as ? `SET app.clinic_id = '${o.as}'` : "RESET app.clinic_id");
    try {
      if (o.kind === "select") return { rows: (await client.query(`SELECT clinic_id FROM "${o.table}"`)).rows };
      if (o.kind === "update") return { count: (await client.query(`UPDATE "${o.table}" SET "${TOUCH[o.table]}" = $1`, [`touched-${o.n}`])).rowCount ?? 0 };
      if (o.kind === "delete") return { count: (await client.query(`DELETE FROM "${o.table}"`)).rowCount ?? 0 };
      const table = INSERTABLE.includes(o.table) ? o.table : "patient";
      const id = `new-${o.n}-${Math.random().toString(36).slice(2)}`;
      const sql = {
        user: `INSERT INTO "user" (id, email, name, password_hash, clinic_id) VALUES ($1, $1, $1, 'x', $2)`,
        branch: `INSERT INTO "branch" (id, name, clinic_id) VALUES ($1, $1, $2)`,
        patient: `INSERT INTO "patient" (id, name, clinic_id) VALUES ($1, $1, $2)`,
        paquete: `INSERT INTO "paquete" (id, name, sessions, price_cents, clinic_id) VALUES ($1, $1, 1, 1, $2)`,
      }[table]!;
      return { count: (await client.query(sql, [id, o.insertFor])).rowCount ?? 0 };
    } catch (err) {
      return { error: (err as { code?: string }).code ?? (err as Error).message };
    }
  }

  it("enforce mode: nothing of another tenant is ever read, changed or created; no tenant sees and changes nothing", async () => {
    await setTenancyMode(db.url, "enforce");
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops) => {
        await seed(db.url);
        const client = new Client({ connectionString: appUrl });
        await client.connect();
        try {
          for (const o of ops) {
            const before = await fingerprint(db.url);
            const res = await run(client, o);
            const after = await fingerprint(db.url);
            const foreign = (k: string) => !o.as || !k.endsWith(`:${o.as}`);
            for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
              if (foreign(k)) expect(after[k], `${o.kind} as ${o.as ?? "nobody"} changed ${k}`).toBe(before[k]);
            }
            if (o.kind === "select") expect(res.rows!.every((r) => r.clinic_id === o.as), `select as ${o.as}`).toBe(true);
            if (o.kind === "select" && !o.as) expect(res.rows).toEqual([]);
            if ((o.kind === "update" || o.kind === "delete") && !o.as) expect(res.count ?? 0).toBe(0);
            if (o.kind === "insert") {
              if (o.as === o.insertFor) expect(res.error).toBeUndefined();
              else expect(res.error, `insert for ${o.insertFor} as ${o.as ?? "nobody"}`).toBe("42501"); // new row violates row-level security policy
            }
          }
        } finally {
          await client.end();
        }
      }),
      { numRuns: 25, seed: SEED, verbose: 1 },
    );
  });

  it("shadow mode: tenant-less access is allowed and counted per table; a tenant still sees only its rows", async () => {
    await seed(db.url);
    await setTenancyMode(db.url, "shadow");
    const before = await tenantlessAccessCounts(db.url);
    const client = new Client({ connectionString: appUrl });
    await client.connect();
    try {
      const all = await client.query(`SELECT clinic_id FROM "patient"`);
      expect(new Set(all.rows.map((r) => r.clinic_id))).toEqual(new Set(TENANTS));
      await client.query(`INSERT INTO "branch" (id, name, clinic_id) VALUES ('shadow-b', 'x', 'alpha')`);
      await client.query("SET app.clinic_id = 'beta'");
      expect((await client.query(`SELECT DISTINCT clinic_id FROM "patient"`)).rows).toEqual([{ clinic_id: "beta" }]);
    } finally {
      await client.end();
    }
    const after = await tenantlessAccessCounts(db.url);
    expect((after.patient ?? 0) - (before.patient ?? 0)).toBe(1); // counted once per table and transaction, not per row
    expect((after.branch ?? 0) - (before.branch ?? 0)).toBe(1);
    // The app role cannot switch itself to shadow mode.
    await setTenancyMode(db.url, "enforce");
    const c2 = new Client({ connectionString: appUrl });
    await c2.connect();
    await expect(c2.query(`UPDATE "bloom_tenancy_settings" SET "mode" = 'shadow'`)).rejects.toMatchObject({ code: "42501" });
    await c2.end();
  });

  it("relax drops the policies and disables RLS (the rollback lever); restore puts back exactly what was there", async () => {
    await seed(db.url);
    await setTenancyMode(db.url, "enforce");
    const policies = async () => query<{ tablename: string; policyname: string; qual: string }>(db.url, "SELECT tablename, policyname, qual FROM pg_policies WHERE schemaname = 'public' ORDER BY 1, 2");
    const original = await policies();
    const relaxed = await relaxRowLevelSecurity(db.url);
    expect(relaxed.policies).toBe(original.length);
    expect(await policies()).toEqual([]);
    expect(await query(appUrl, `SELECT count(*)::int AS n FROM "patient"`)).toEqual([{ n: 9 }]); // no RLS: the app sees all
    await relaxRowLevelSecurity(db.url); // idempotent
    await restoreRowLevelSecurity(db.url);
    expect(await policies()).toEqual(original);
    expect(await query(appUrl, `SELECT count(*)::int AS n FROM "patient"`)).toEqual([{ n: 0 }]);
    const forced = await query<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM pg_class WHERE relname = ANY($1) AND relrowsecurity AND relforcerowsecurity", [[...TABLES, "clinic"]]);
    expect(forced[0]!.n).toBe(TABLES.length + 1);
  });
});
