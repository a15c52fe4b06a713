import { describe, expect, it } from "vitest";
import { createDatabaseBackend } from "../infra/database/createBackend";
import { query, requirePostgres, TEST_PG_URL } from "./postgres";
import { leftoverProjects } from "./stackLeftovers";

/** The sweep before the e2e and gates suites finds what the local backend left on the test server, and only that. */
describe("the test server's leftover projects (real Postgres)", () => {
  it("lists a project the local backend made, with its branches, and not a database it did not make", async () => {
    await requirePostgres();
    const project = `bloom-leftover-${Date.now().toString(36)}`;
    const stranger = `leftover_stranger_${Date.now().toString(36)}`;
    const backend = createDatabaseBackend({ kind: "local", serverUrl: TEST_PG_URL });
    await query(TEST_PG_URL, `CREATE DATABASE ${stranger}`);
    try {
      await backend.ensureProject({ name: project });
      await backend.ensureBranch({ projectId: project, name: "copy-1" });
      expect(await leftoverProjects(TEST_PG_URL)).toContain(project);
      await backend.deleteProject(project);
      expect(await leftoverProjects(TEST_PG_URL)).not.toContain(project);
      expect(await query(TEST_PG_URL, `SELECT datname FROM pg_database WHERE datname = $1`, [stranger])).toHaveLength(1);
    } finally {
      await backend.deleteProject(project).catch(() => undefined);
      await backend.close();
      await query(TEST_PG_URL, `DROP DATABASE IF EXISTS ${stranger}`);
    }
  });
});
