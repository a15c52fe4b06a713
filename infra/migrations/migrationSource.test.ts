import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../config/stackFile";
import { checksumMatches, checksumOf, loadMigrations, migrationsContentHash } from "./migrationSource";
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

  // Known answers computed outside this code (Python's hashlib.sha256 over the bytes): what Prisma records.
  it.each([
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["SELECT 1;\n", "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd"],
    ["SELECT 1;\r\n", "d3cd5042f97738960d802ad6b3a548dfa18152215118ba18f04493bc6944b0e4"],
    ['CREATE TABLE "a" ("id" INTEGER);\n', "c05370e4c324bbc1ab816c70db98bd94f2fd1c8f1f09d81529be43731bc0a36a"],
  ])("checksum of %j is Prisma's lowercase hex sha256", (sql, expected) => {
    expect(checksumOf(sql)).toBe(expected);
  });

  it("accepts the CRLF and LF variants of a recorded checksum, as Prisma does, and nothing else", () => {
    const lf = "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd";
    const crlf = "d3cd5042f97738960d802ad6b3a548dfa18152215118ba18f04493bc6944b0e4";
    expect(checksumMatches(lf, "SELECT 1;\r\n")).toBe(true); // recorded on Linux, checked out with autocrlf
    expect(checksumMatches(crlf, "SELECT 1;\n")).toBe(true); // recorded on Windows
    expect(checksumMatches(lf, "SELECT 2;\n")).toBe(false);
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
