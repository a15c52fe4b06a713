import { createDatabaseBackend } from "../infra/database/createBackend";
import { ensureTestPostgres } from "../scripts/services/ensurePostgres";
import { query } from "./postgres";

/**
 * The e2e and gates suites run real stacks on the test server, and a local stack's databases have fixed names
 * (`bloom_local__main`): a run that was killed, or whose teardown failed, would hand its tenants and rows to the
 * next run's assertions. Before those suites start, every project the local backend made on the test server is
 * deleted through the backend itself (its branch databases, then its roles), each named in the log.
 */
export default async function removeStackLeftovers(): Promise<void> {
  const serverUrl = process.env.BLOOM_TEST_PG_URL ?? (await ensureTestPostgres(() => undefined));
  await removeProjects(serverUrl, { say: (project) => console.log(`[test services] removing project ${project} (its databases and roles), left on the test server by an earlier run`) });
}

/** Every project the local backend made on the server, but those in `keep`, deleted through the backend. */
export async function removeProjects(serverUrl: string, opts: { keep?: Set<string>; say?: (project: string) => void } = {}): Promise<void> {
  const projects = (await leftoverProjects(serverUrl)).filter((p) => !opts.keep?.has(p));
  if (!projects.length) return;
  const backend = createDatabaseBackend({ kind: "local", serverUrl });
  try {
    for (const project of projects) {
      opts.say?.(project);
      await backend.deleteProject(project);
    }
  } finally {
    await backend.close();
  }
}

/** Projects named in the local backend's database comments (`{"bloomBranch": {"project": …}}`). */
export async function leftoverProjects(serverUrl: string): Promise<string[]> {
  const rows = await query<{ project: string }>(serverUrl, `
    SELECT DISTINCT (shobj_description(oid, 'pg_database')::jsonb -> 'bloomBranch' ->> 'project') AS project
      FROM pg_database
     WHERE shobj_description(oid, 'pg_database') LIKE '{%bloomBranch%'
     ORDER BY 1`);
  return rows.map((r) => r.project).filter(Boolean);
}
