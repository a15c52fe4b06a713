import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployIdFor, deployMigrationsToTargets, MigrationHookError } from "./deployToTargets";
import { loadMigrations, migrationsContentHash } from "./migrationSource";
import { freshMigratorDatabase } from "../../test/databases";
import { writeMigrationsDir } from "../../test/migrationFixtures";
import { query, requirePostgres } from "../../test/postgres";

type Db = Awaited<ReturnType<typeof freshMigratorDatabase>>;

describe("deploy hook work: snapshot, then migrate, on every target", () => {
  const dbs: Db[] = [];
  beforeAll(async () => {
    await requirePostgres();
    for (let i = 0; i < 3; i++) dbs.push(await freshMigratorDatabase("hook"));
    // The third target already has a table the migration wants to create: it will fail there only.
    await query(dbs[2]!.url, "CREATE TABLE booking (id int)");
  });
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it("snapshots each target before migrating, fails naming database, migration and snapshot, and migrates the rest", async () => {
    const migrations = loadMigrations(writeMigrationsDir({ "001_booking": "CREATE TABLE booking (id bigint PRIMARY KEY, clinic_id text);" }));
    const deployId = deployIdFor(migrationsContentHash(migrations), new Date("2026-11-27T09:30:00Z"));
    expect(deployId).toMatch(/^predeploy-20261127-0930-[0-9a-f]{8}$/);
    const targets = dbs.map((db, i) => ({ name: `db${i}`, projectId: db.projectId, branchId: "main", migratorUrl: db.url }));
    const err = await deployMigrationsToTargets(targets, { backend: dbs[0]!.backend, migrations, deployId, snapshotTtlHours: 24, concurrency: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(MigrationHookError);
    expect(err.failures.map((f: { target: string }) => f.target)).toEqual(["db2"]);
    expect(err.message).toMatch(new RegExp(`db2: db2: migration \`001_booking\` failed[^\\n]*already exists[\\s\\S]*rollback --to ${deployId}`));
    expect(err.outcomes.map((o: { target: string; applied: string[] }) => [o.target, o.applied])).toEqual([["db0", ["001_booking"]], ["db1", ["001_booking"]]]);
    for (const db of dbs) {
      const snap = (await db.backend.listBranches(db.projectId)).find((b) => b.name === deployId);
      expect(snap?.parentBranchId).toBe("main");
      expect(Date.parse(snap!.expiresAt!) - Date.now()).toBeGreaterThan(23 * 3_600_000);
    }
    // The snapshot of a migrated target still has the pre-migration schema.
    const snapUrl = dbs[0]!.url.replace(/\/[^/?]+(\?|$)/, `/${dbs[0]!.projectId.replace(/-/g, "_")}__${deployId.replace(/-/g, "_")}$1`);
    expect(await query(snapUrl, "SELECT to_regclass('booking') AS t")).toEqual([{ t: null }]);
  });

  it("takes no snapshot where nothing is pending", async () => {
    const migrations = loadMigrations(writeMigrationsDir({ "001_booking": "CREATE TABLE booking (id bigint PRIMARY KEY, clinic_id text);" }));
    const outcomes = await deployMigrationsToTargets([{ name: "db0", projectId: dbs[0]!.projectId, branchId: "main", migratorUrl: dbs[0]!.url }], {
      backend: dbs[0]!.backend, migrations, deployId: "predeploy-second", snapshotTtlHours: 24, concurrency: 1,
    });
    expect(outcomes).toEqual([{ target: "db0", applied: [], warnings: [] }]);
    expect((await dbs[0]!.backend.listBranches(dbs[0]!.projectId)).map((b) => b.name)).not.toContain("predeploy-second");
  });

  it("refuses the whole deploy before touching any database when a pending migration fails the lint", async () => {
    const migrations = loadMigrations(writeMigrationsDir({ "001_booking": "CREATE TABLE booking (id bigint PRIMARY KEY, clinic_id text);", "002_idx": "CREATE INDEX booking_clinic ON booking (clinic_id);" }));
    await expect(deployMigrationsToTargets([{ name: "db1", projectId: dbs[1]!.projectId, branchId: "main", migratorUrl: dbs[1]!.url }], {
      backend: dbs[1]!.backend, migrations, deployId: "predeploy-lint", snapshotTtlHours: 24, concurrency: 1,
    })).rejects.toThrow(/002_idx\/migration.sql:1: require-concurrent-index-creation/);
    expect((await dbs[1]!.backend.listBranches(dbs[1]!.projectId)).map((b) => b.name)).not.toContain("predeploy-lint");
  });
});
