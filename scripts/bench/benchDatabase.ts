import path from "node:path";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { ensureAppRole, type AppRole } from "../../infra/database/sql/appRole";
import { LocalPostgresBackend } from "../../infra/database/local/localPostgresBackend";
import { applyPendingMigrations } from "../../infra/migrations/applyPendingMigrations";
import { loadMigrations } from "../../infra/migrations/migrationSource";
import { ensureTestPostgres } from "../services/ensurePostgres";

/**
 * A throwaway pool database for a benchmark, built as the platform builds one: a project with a migrator-owned
 * database, every reference migration applied, then the app role (the allow-list covers the tables they made).
 * `work` gets the migrator's URL, the app role and the server's admin URL; the project is deleted afterwards, whatever happens.
 */
export async function withBenchDatabase(name: string, work: (db: { url: string; app: AppRole; serverUrl: string }) => Promise<void>): Promise<void> {
  const serverUrl = await ensureTestPostgres((m) => console.log(m));
  const backend = new LocalPostgresBackend(serverUrl);
  const project = `bench-${name}-${Date.now().toString(36)}`;
  await backend.ensureProject({ name: project });
  try {
    const migrator = await backend.ensureRole(project, "main", "bloom_migrator");
    await backend.ensureDatabase(project, "main", "bloom", migrator.name);
    const url = await backend.connectionUri({ projectId: project, branchId: "main", database: "bloom", role: migrator.name, password: migrator.password });
    await applyPendingMigrations(url, loadMigrations(path.join(REPO_ROOT, "prisma", "migrations")), { database: project });
    const app = await ensureAppRole(url, `${project.replace(/-/g, "_")}__bloom_app`);
    await work({ url, app, serverUrl });
  } finally {
    await backend.deleteProject(project);
    await backend.close();
  }
}
