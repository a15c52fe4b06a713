import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../config/stackFile";
import { loadMigrations, migrationsContentHash } from "./migrationSource";
import { splitSqlStatements } from "./sqlStatements";
import { writeMigrationsDir } from "../../test/migrationFixtures";
import { LintError, assertLintClean, lintMigrations } from "./lintMigrations";

describe("migration source", () => {
  it("loads folders in Prisma's order and marks CONCURRENTLY files non-transactional", () => {
    const migrations = loadMigrations(path.join(REPO_ROOT, "prisma", "migrations"));
    expect(migrations.map((m) => m.name)).toEqual([...migrations.map((m) => m.name)].sort());
    expect(migrations.filter((m) => !m.transactional).map((m) => m.name)).toEqual([
      "20260201000100_phase0_clinic_indexes",
      "20260301000200_phase1_tenant_unique_indexes",
      "20260301000400_phase1_drop_global_uniques",
      "20261201000100_tenant_scoped_key_indexes",
    ]);
  });

  it("changes the content hash when any migration changes", () => {
    const a = loadMigrations(writeMigrationsDir({ "1_a": "SELECT 1;" }));
    const b = loadMigrations(writeMigrationsDir({ "1_a": "SELECT 2;" }));
    expect(migrationsContentHash(a)).not.toBe(migrationsContentHash(b));
    expect(migrationsContentHash(a)).toBe(migrationsContentHash(loadMigrations(writeMigrationsDir({ "1_a": "SELECT 1;" }))));
  });

  it("names the folder when it does not exist", () => {
    expect(() => loadMigrations("/nonexistent/migrations")).toThrow(/\/nonexistent\/migrations does not exist/);
  });

  it("splits statements, ignoring semicolons in strings, identifiers, dollar quotes and comments", () => {
    const sql = `-- a; comment
CREATE INDEX CONCURRENTLY "x;y" ON t (c); /* b; */ SELECT 'it''s; fine';
CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;`;
    expect(splitSqlStatements(sql)).toEqual([
      `-- a; comment\nCREATE INDEX CONCURRENTLY "x;y" ON t (c)`,
      `/* b; */ SELECT 'it''s; fine'`,
      "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
    ]);
  });
});

describe("squawk lint gate", () => {
  it("passes the reference migrations", () => {
    expect(lintMigrations(loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")))).toEqual([]);
  });

  it("blocks a violation with the rule and the line", () => {
    const dir = writeMigrationsDir({ "001_index": "-- adds an index\n\nCREATE INDEX appointment_status_idx ON appointment (status);\n" });
    const err = (() => { try { assertLintClean(loadMigrations(dir)); } catch (e) { return e as LintError; } })();
    expect(err).toBeInstanceOf(LintError);
    expect(err!.violations).toContainEqual(expect.objectContaining({ migration: "001_index", rule: "require-concurrent-index-creation", line: 3 }));
    expect(err!.message).toMatch(/001_index\/migration.sql:3: require-concurrent-index-creation/);
  });

  it("lets one migration allow a rule in its squawk.allow", () => {
    const dir = writeMigrationsDir({ "001_index": "CREATE INDEX IF NOT EXISTS small_idx ON lookup (code);\n" }, { "001_index": ["require-concurrent-index-creation  # lookup has 40 rows"] });
    expect(lintMigrations(loadMigrations(dir))).toEqual([]);
  });
});
