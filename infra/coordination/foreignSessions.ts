import type { Client } from "pg";

/**
 * The guarantee behind the app's timeouts (issue 22): the role's timeouts and the pooler's are layers the app can
 * lift (`SET statement_timeout = 0` over a direct connection), so when a session blocks a fence, a move or a deploy
 * past its bound, the platform ends it. Only sessions that are not the platform's: a superuser's, this role's or a
 * member's sessions are never ended (another platform operation is reported, not killed). Ending the app's
 * sessions needs the privileges of the app role, which its creator grants itself (ensureAppRole).
 */
export interface EndedSession {
  pid: number;
  role: string;
  application: string;
}

export async function terminateForeignSessions(c: Client, pids: number[], why: string, log: (line: string) => void): Promise<EndedSession[]> {
  if (!pids.length) return [];
  const { rows } = await c.query<EndedSession & { ended: boolean | null; error: string | null }>(
    `SELECT a.pid, r.rolname AS role, coalesce(a.application_name, '') AS application,
            CASE WHEN pg_catalog.pg_has_role(current_user, r.oid, 'USAGE') THEN pg_catalog.pg_terminate_backend(a.pid) END AS ended,
            CASE WHEN NOT pg_catalog.pg_has_role(current_user, r.oid, 'USAGE') THEN 'no privilege on role ' || r.rolname END AS error
     FROM pg_catalog.pg_stat_activity a JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid
     WHERE a.pid = ANY($1::int[]) AND a.pid <> pg_catalog.pg_backend_pid()
       AND NOT r.rolsuper AND NOT pg_catalog.pg_has_role(r.oid, current_user, 'MEMBER')`, [pids]);
  const ended = rows.filter((r) => r.ended);
  for (const s of ended) log(`${why}: terminated session pid ${s.pid} (role ${s.role}${s.application ? `, application ${s.application}` : ""}) that blocked it past its bound`);
  for (const s of rows.filter((r) => r.error)) log(`${why}: could not terminate session pid ${s.pid}: ${s.error}`);
  return ended.map(({ pid, role, application }) => ({ pid, role, application }));
}
