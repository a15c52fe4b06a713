import { Client } from "pg";
import { runWithTenant } from "@bloom/tenant-runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPostgresBackend } from "./localPostgresBackend";
import { ensureAppRole, withCredentials } from "../sql/appRole";
import { query, requirePostgres, TEST_PG_URL, uniqueName } from "../../../test/postgres";

/** Branching on a real server: copies are consistent, isolated from later writes, and the app role obeys RLS. */
describe("local Postgres backend — data", () => {
  const backend = new LocalPostgresBackend(TEST_PG_URL);
  const projectName = uniqueName("it");
  let migratorUri: string;

  beforeAll(async () => {
    await requirePostgres();
    const project = await backend.ensureProject({ name: projectName });
    const migrator = await backend.ensureRole(project.projectId, "main", "bloom_migrator");
    await backend.ensureDatabase(project.projectId, "main", "bloom", migrator.name);
    migratorUri = await backend.connectionUri({ projectId: project.projectId, branchId: "main", database: "bloom", role: migrator.name, password: migrator.password });
    await query(migratorUri, "CREATE TABLE appointment (id serial PRIMARY KEY, clinic_id text NOT NULL, note text)");
    await query(migratorUri, "INSERT INTO appointment (clinic_id, note) VALUES ('a', 'before-1'), ('b', 'before-2')");
  });
  afterAll(async () => {
    await backend.deleteProject(projectName);
    await backend.close();
  });

  const branchUri = (branch: string) => backend.connectionUri({ projectId: projectName, branchId: branch, database: "bloom", role: "postgres", password: "" });

  it("a snapshot holds the parent's rows at that moment and none written after", async () => {
    await backend.ensureBranch({ projectId: projectName, name: "snap-idle" });
    await query(migratorUri, "INSERT INTO appointment (clinic_id, note) VALUES ('a', 'after')");
    const rows = await query<{ note: string }>(await branchUri("snap-idle"), "SELECT note FROM appointment ORDER BY id");
    expect(rows.map((r) => r.note)).toEqual(["before-1", "before-2"]);
  });

  it("snapshots a parent that the app is connected to (consistent dump instead of template copy)", async () => {
    const app = new Client({ connectionString: migratorUri });
    await app.connect();
    try {
      await app.query("BEGIN");
      await app.query("INSERT INTO appointment (clinic_id, note) VALUES ('a', 'uncommitted')");
      const snap = await backend.ensureBranch({ projectId: projectName, name: "snap-busy" });
      expect(snap.parentBranchId).toBe("main");
      const notes = (await query<{ note: string }>(await branchUri("snap-busy"), "SELECT note FROM appointment ORDER BY id")).map((r) => r.note);
      expect(notes).toEqual(["before-1", "before-2", "after"]); // committed rows only
      await app.query("ROLLBACK");
    } finally {
      await app.end();
    }
  });

  it("restore puts the source's data on the branch and keeps the replaced data under the preserve name", async () => {
    await query(migratorUri, "DELETE FROM appointment WHERE note = 'before-2'");
    await backend.restoreBranch({ projectId: projectName, branchId: "main", sourceBranchId: "snap-idle", preserveUnderName: "main-before-restore" });
    const restored = (await query<{ note: string }>(migratorUri, "SELECT note FROM appointment ORDER BY id")).map((r) => r.note);
    expect(restored).toEqual(["before-1", "before-2"]);
    const kept = (await query<{ note: string }>(await branchUri("main-before-restore"), "SELECT note FROM appointment ORDER BY id")).map((r) => r.note);
    expect(kept).toEqual(["before-1", "after"]);
  });

  it("refuses point-in-time branches with a clear error (a loopback server keeps no history)", async () => {
    await expect(backend.ensureBranch({ projectId: projectName, name: "pitr", at: "2026-11-27T08:00:00Z" })).rejects.toThrow(/keeps no history.*neon backend/);
  });

  it("the app role cannot bypass row-level security and sees only its tenant's rows", async () => {
    const appName = `${projectName.replace(/-/g, "_")}__bloom_app`;
    const role = await ensureAppRole(migratorUri, appName);
    const again = await ensureAppRole(migratorUri, appName, role.password);
    expect(again.password).toBe(role.password); // an update keeps the password the app is using
    const attrs = await query<{ rolsuper: boolean; rolbypassrls: boolean }>(TEST_PG_URL, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", [appName]);
    expect(attrs).toEqual([{ rolsuper: false, rolbypassrls: false }]);
    await query(migratorUri, "ALTER TABLE appointment ENABLE ROW LEVEL SECURITY");
    await query(migratorUri, "ALTER TABLE appointment FORCE ROW LEVEL SECURITY");
    await query(migratorUri, "CREATE POLICY tenant ON appointment USING (clinic_id = nullif(current_setting('app.clinic_id', true), ''))");
    const appUri = withCredentials(migratorUri, role.name, role.password);
    const client = new Client({ connectionString: appUri });
    await client.connect();
    try {
      expect((await client.query("SELECT count(*)::int AS n FROM appointment")).rows[0].n).toBe(0);
      const rows = await runWithTenant(client, "a", async (c) => (await c.query("SELECT clinic_id FROM appointment")).rows);
      expect(rows.length > 0 && rows.every((r) => r.clinic_id === "a")).toBe(true);
    } finally {
      await client.end();
    }
  });

  it("a 30-character tenant's project takes snapshots whose database names would exceed 63 bytes: cut with a hash, listed by their real names", async () => {
    const project = `bloom-staging-${"z".repeat(24)}-${Date.now().toString(36).slice(-4)}`.slice(0, 44);
    await backend.ensureProject({ name: project });
    try {
      const snapshot = "predeploy-20261127-0930-1a2b3c4d";
      await backend.ensureBranch({ projectId: project, name: snapshot });
      await backend.ensureBranch({ projectId: project, name: snapshot }); // idempotent by name
      expect((await backend.listBranches(project)).map((b) => b.name).sort()).toEqual(["main", snapshot]);
      expect(await backend.getBranch(project, snapshot)).toMatchObject({ name: snapshot });
    } finally {
      await backend.deleteProject(project);
    }
  });

  it("deleting the project drops its branches and roles", async () => {
    const other = uniqueName("it-del");
    await backend.ensureProject({ name: other });
    await backend.ensureRole(other, "main", "bloom_migrator");
    await backend.ensureBranch({ projectId: other, name: "s1" });
    await backend.deleteProject(other);
    expect(await backend.listBranches(other)).toEqual([]);
    expect(await query(TEST_PG_URL, "SELECT 1 FROM pg_roles WHERE rolname LIKE $1", [`${other.replace(/-/g, "_")}__%`])).toEqual([]);
  });
});
