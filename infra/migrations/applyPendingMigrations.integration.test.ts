import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../config/stackFile";
import { applyPendingMigrations, resolveMigration } from "./applyPendingMigrations";
import { FailedMigrationsError, MigrationFailedError, MigrationLockHeldError } from "./migrationErrors";
import { Client } from "pg";
import { checksumOf, loadMigrations } from "./migrationSource";
import { freshMigratorDatabase } from "../../test/databases";
import { addMigration, writeMigrationsDir } from "../../test/migrationFixtures";
import { query, requirePostgres } from "../../test/postgres";

const REFERENCE = path.join(REPO_ROOT, "prisma", "migrations");
type Db = Awaited<ReturnType<typeof freshMigratorDatabase>>;

describe("migration runner (prisma migrate deploy semantics) on real Postgres", () => {
  const dbs: Db[] = [];
  const fresh = async () => {
    const db = await freshMigratorDatabase();
    dbs.push(db);
    return db;
  };
  beforeAll(() => requirePostgres());
  afterEach(async () => {
    while (dbs.length) await dbs.pop()!.drop();
  });

  it("applies every reference migration to a fresh database, recording them as Prisma does; a rerun applies nothing", async () => {
    const db = await fresh();
    const migrations = loadMigrations(REFERENCE);
    const first = await applyPendingMigrations(db.url, migrations, { database: db.database });
    expect(first.applied).toEqual(migrations.map((m) => m.name));
    const rows = await query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number; rolled_back_at: Date | null }>(db.url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name');
    expect(rows.map((r) => r.migration_name)).toEqual(migrations.map((m) => m.name));
    for (const r of rows) {
      const file = readFileSync(path.join(REFERENCE, r.migration_name, "migration.sql"), "utf8");
      expect(r.checksum).toBe(checksumOf(file));
      expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(r.finished_at).not.toBeNull();
      expect(r.rolled_back_at).toBeNull();
      expect(r.applied_steps_count).toBe(1);
    }
    const second = await applyPendingMigrations(db.url, migrations, { database: db.database });
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBe(migrations.length);
  });

  it("creates _prisma_migrations with exactly Prisma's columns, types, nullability and defaults", async () => {
    const db = await fresh();
    await applyPendingMigrations(db.url, [], { database: db.database });
    const columns = await query(db.url, `SELECT column_name, data_type, character_maximum_length AS len, is_nullable, column_default
      FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`);
    expect(columns).toEqual([
      { column_name: "id", data_type: "character varying", len: 36, is_nullable: "NO", column_default: null },
      { column_name: "checksum", data_type: "character varying", len: 64, is_nullable: "NO", column_default: null },
      { column_name: "finished_at", data_type: "timestamp with time zone", len: null, is_nullable: "YES", column_default: null },
      { column_name: "migration_name", data_type: "character varying", len: 255, is_nullable: "NO", column_default: null },
      { column_name: "logs", data_type: "text", len: null, is_nullable: "YES", column_default: null },
      { column_name: "rolled_back_at", data_type: "timestamp with time zone", len: null, is_nullable: "YES", column_default: null },
      { column_name: "started_at", data_type: "timestamp with time zone", len: null, is_nullable: "NO", column_default: "now()" },
      { column_name: "applied_steps_count", data_type: "integer", len: null, is_nullable: "NO", column_default: "0" },
    ]);
    const pk = await query(db.url, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '_prisma_migrations'::regclass AND i.indisprimary");
    expect(pk).toEqual([{ attname: "id" }]);
  });

  it("leaves the schema as the playbook intends: clinic_id NOT NULL, per-clinic uniques, RLS enabled and forced", async () => {
    const db = await fresh();
    await applyPendingMigrations(db.url, loadMigrations(REFERENCE), { database: db.database });
    const tables = ["user", "branch", "therapist", "patient", "paquete", "appointment", "payment"];
    const cols = await query<{ table_name: string; is_nullable: string; column_default: string }>(db.url, "SELECT table_name, is_nullable, column_default FROM information_schema.columns WHERE column_name = 'clinic_id' ORDER BY table_name");
    expect(cols.map((c) => c.table_name).sort()).toEqual([...tables].sort());
    // The default follows the transaction's tenant, 'legacy' without one (migration 20261205000000, issue 17).
    const tenantDefault = "COALESCE(NULLIF(current_setting('app.clinic_id'::text, true), ''::text), 'legacy'::text)";
    expect(cols.every((c) => c.is_nullable === "NO" && c.column_default === tenantDefault)).toBe(true);
    const rls = await query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>(db.url, "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY($1)", [[...tables, "clinic"]]);
    expect(rls.every((r) => r.relrowsecurity && r.relforcerowsecurity)).toBe(true);
    const uniques = await query<{ conname: string }>(db.url, "SELECT conname FROM pg_constraint WHERE contype = 'u' AND connamespace = 'public'::regnamespace ORDER BY conname");
    expect(uniques.map((u) => u.conname)).toEqual(["paquete_clinic_id_name_key", "user_clinic_id_email_key"]);
    const scoped = await query<{ relname: string }>(db.url, `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indisunique AND i.indisvalid AND i.indpred IS NULL AND c.relname LIKE '%\\_clinic\\_id\\_id\\_key' ORDER BY 1`);
    expect(scoped.map((r) => r.relname)).toEqual(tables.map((t) => `${t}_clinic_id_id_key`).sort());
    // Every reference between tenant tables carries clinic_id: a row can only point at its own clinic's rows.
    const fks = await query<{ conname: string; cols: string; convalidated: boolean }>(db.url, `SELECT conname, convalidated, (SELECT string_agg(attname, ',' ORDER BY k.n) FROM unnest(conkey) WITH ORDINALITY k(a, n) JOIN pg_attribute ON attrelid = conrelid AND attnum = k.a) AS cols
      FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace AND confrelid <> 'clinic'::regclass ORDER BY conname`);
    expect(fks).toHaveLength(7);
    expect(fks.every((f) => f.convalidated && f.cols.startsWith("clinic_id,"))).toBe(true);
    const invalid = await query(db.url, "SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid");
    expect(invalid).toEqual([]);
  });

  it("a failing migration leaves the database at the last good one, is recorded failed, and blocks the next deploy until resolved", async () => {
    const db = await fresh();
    const dir = writeMigrationsDir({
      "001_good": "CREATE TABLE a (id int PRIMARY KEY);",
      "002_bad": "CREATE TABLE b (id int PRIMARY KEY);\nINSERT INTO a VALUES (1);\nSELECT * FROM missing_table;",
      "003_later": "CREATE TABLE c (id int PRIMARY KEY);",
    });
    const err = await applyPendingMigrations(db.url, loadMigrations(dir), { database: db.database }).catch((e) => e);
    expect(err).toBeInstanceOf(MigrationFailedError);
    expect(err.message).toMatch(new RegExp(`${db.database}: migration \`002_bad\` failed.*missing_table`));
    const tables = await query<{ t: string }>(db.url, "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('a','b','c') ORDER BY 1");
    expect(tables.map((t) => t.t)).toEqual(["a"]); // 002's CREATE TABLE b rolled back with it; 003 never ran
    expect(await query(db.url, "SELECT count(*)::int AS n FROM a")).toEqual([{ n: 0 }]);
    const [record] = await query<{ finished_at: Date | null; logs: string }>(db.url, `SELECT finished_at, logs FROM "_prisma_migrations" WHERE migration_name = '002_bad'`);
    expect(record!.finished_at).toBeNull();
    expect(record!.logs).toMatch(/missing_table/);

    const blocked = await applyPendingMigrations(db.url, loadMigrations(dir), { database: db.database }).catch((e) => e);
    expect(blocked).toBeInstanceOf(FailedMigrationsError);
    expect(blocked.message).toMatch(/P3009[\s\S]*`002_bad` migration started at .* failed[\s\S]*resolve --rolled-back 002_bad/);

    addMigration(dir, "002_bad", "CREATE TABLE b (id int PRIMARY KEY);\nINSERT INTO a VALUES (1);");
    await resolveMigration(db.url, "002_bad", "rolled-back", loadMigrations(dir));
    const resumed = await applyPendingMigrations(db.url, loadMigrations(dir), { database: db.database });
    expect(resumed.applied).toEqual(["002_bad", "003_later"]);
    const history = await query<{ migration_name: string; ok: boolean }>(db.url, `SELECT migration_name, finished_at IS NOT NULL AND rolled_back_at IS NULL AS ok FROM "_prisma_migrations" ORDER BY started_at, ok`);
    expect(history).toEqual([
      { migration_name: "001_good", ok: true },
      { migration_name: "002_bad", ok: false },
      { migration_name: "002_bad", ok: true },
      { migration_name: "003_later", ok: true },
    ]);
  });

  it("resolve --applied records a migration completed by hand; resolving a healthy one is refused", async () => {
    const db = await fresh();
    const dir = writeMigrationsDir({ "001_fail": "SELECT 1/0;", "002_next": "SELECT 1;" });
    await applyPendingMigrations(db.url, loadMigrations(dir), { database: db.database }).catch(() => undefined);
    await resolveMigration(db.url, "001_fail", "applied", loadMigrations(dir));
    expect((await applyPendingMigrations(db.url, loadMigrations(dir), { database: db.database })).applied).toEqual(["002_next"]);
    await expect(resolveMigration(db.url, "002_next", "rolled-back", loadMigrations(dir))).rejects.toThrow(/P3011/);
    await expect(resolveMigration(db.url, "002_next", "applied", loadMigrations(dir))).rejects.toThrow(/P3008/);
  });

  it("two concurrent deploys serialize on the migration lease: one waits, each migration runs once, both end correct", async () => {
    const db = await fresh();
    const dir = writeMigrationsDir({
      "001_slow": "CREATE TABLE t (id int); SELECT pg_sleep(0.6);",
      "002_insert": "INSERT INTO t VALUES (1);",
    });
    const migrations = loadMigrations(dir);
    const [a, b] = await Promise.all([
      applyPendingMigrations(db.url, migrations, { database: "deploy-a" }),
      applyPendingMigrations(db.url, migrations, { database: "deploy-b" }),
    ]);
    expect([...a.applied, ...b.applied].sort()).toEqual(["001_slow", "002_insert"]);
    expect([a.applied.length, b.applied.length].sort()).toEqual([0, 2]);
    expect(Math.max(a.lockWaitMs, b.lockWaitMs)).toBeGreaterThanOrEqual(500);
    expect(await query(db.url, "SELECT count(*)::int AS n FROM t")).toEqual([{ n: 1 }]);
  });

  it("does not call a migration modified when only its line endings changed (Prisma's rule); does when its text did", async () => {
    const db = await fresh();
    await applyPendingMigrations(db.url, loadMigrations(writeMigrationsDir({ "001_a": "CREATE TABLE a (id int);\n" })), { database: db.database });
    const crlf = await applyPendingMigrations(db.url, loadMigrations(writeMigrationsDir({ "001_a": "CREATE TABLE a (id int);\r\n" })), { database: db.database });
    expect(crlf.warnings).toEqual([]);
    const edited = await applyPendingMigrations(db.url, loadMigrations(writeMigrationsDir({ "001_a": "CREATE TABLE a (id bigint);\n" })), { database: db.database });
    expect(edited.warnings).toEqual([expect.stringMatching(/`001_a` was modified after it was applied/)]);
  });

  it("stops at once with P1002 while a session that can run migrations holds Prisma's key, waiting on no advisory key", async () => {
    const db = await fresh();
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(72707369)"); // a real `prisma migrate` (the migrator's role) running
      const started = Date.now();
      const err = await applyPendingMigrations(db.url, loadMigrations(writeMigrationsDir({ "001_a": "CREATE TABLE a (id int);" })), { database: db.database, migrationLockTimeoutMs: 5_000 }).catch((e) => e);
      expect(Date.now() - started).toBeLessThan(2_000); // not the lease's 5 s: the key is tried once
      expect(err).toBeInstanceOf(MigrationLockHeldError);
      expect(err.message).toMatch(/Prisma's migration key \(72707369\) is held by role \S+ \(pid \d+\), which can run migrations \(P1002\): a `prisma migrate` is running/);
      expect(await query(db.url, "SELECT to_regclass('public.a') AS t")).toEqual([{ t: null }]);
    } finally {
      await holder.end();
    }
  });

  it("retries a file that hits lock_timeout while the app holds a lock, then applies it", async () => {
    const db = await fresh();
    await query(db.url, "CREATE TABLE busy (id int)");
    const { Client } = await import("pg");
    const app = new Client({ connectionString: db.url });
    await app.connect();
    await app.query("BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE");
    const release = setTimeout(() => void app.query("COMMIT"), 400);
    const lines: string[] = [];
    const res = await applyPendingMigrations(db.url, loadMigrations(writeMigrationsDir({ "001_alter": "ALTER TABLE busy ADD COLUMN note text;" })), {
      database: db.database, lockTimeoutMs: 100, lockRetries: 8, log: (l) => lines.push(l),
    });
    clearTimeout(release);
    await app.end();
    expect(res.applied).toEqual(["001_alter"]);
    expect(lines.some((l) => /lock not available, retrying/.test(l))).toBe(true);
  });

  it("warns when an applied migration was changed on disk", async () => {
    const db = await fresh();
    const dir = writeMigrationsDir({ "001_a": "CREATE TABLE w (id int);" });
    await applyPendingMigrations(db.url, loadMigrations(dir), { database: db.database });
    addMigration(dir, "001_a", "CREATE TABLE w (id bigint);");
    const res = await applyPendingMigrations(db.url, loadMigrations(dir), { database: db.database });
    expect(res.warnings).toEqual([expect.stringMatching(/`001_a` was modified after it was applied/)]);
  });
});
