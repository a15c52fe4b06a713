import { LocalPostgresBackend } from "../infra/database/local/localPostgresBackend";
import { TEST_PG_URL, uniqueName } from "./postgres";

/** A fresh project on the test server with a migrator-owned database, as the platform provisions it. */
export async function freshMigratorDatabase(prefix = "mig", serverUrl = TEST_PG_URL) {
  const backend = new LocalPostgresBackend(serverUrl);
  const project = await backend.ensureProject({ name: uniqueName(prefix) });
  const migrator = await backend.ensureRole(project.projectId, "main", "bloom_migrator");
  await backend.ensureDatabase(project.projectId, "main", "bloom", migrator.name);
  const url = await backend.connectionUri({ projectId: project.projectId, branchId: "main", database: "bloom", role: migrator.name, password: migrator.password });
  return {
    url,
    backend,
    projectId: project.projectId,
    database: `${project.projectId}/main`,
    async drop() {
      await backend.deleteProject(project.projectId);
      await backend.close();
    },
  };
}
