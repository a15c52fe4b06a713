import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { embeddedBinDir } from "./embeddedPostgres";

/**
 * A consistent copy of a live database when `CREATE DATABASE … TEMPLATE` cannot be used (the template has other
 * sessions, e.g. the running app). pg_dump reads inside one repeatable-read snapshot, so the copy is consistent.
 * Owners and grants are kept: locally, roles are server-wide, so they exist for the copy too.
 */
export function pgToolPath(tool: "pg_dump" | "pg_restore", serverMajor: number): string {
  const debian = `/usr/lib/postgresql/${serverMajor}/bin/${tool}`;
  if (existsSync(debian)) return debian;
  const embedded = path.join(embeddedBinDir(), tool);
  if (existsSync(embedded)) return embedded; // newer than the server: pg_dump reads older servers
  return tool;
}

/**
 * A connection URL as libpq environment variables: a child process gets its credentials this way, never on its
 * command line (which every local user can read in /proc/<pid>/cmdline and `ps`).
 */
export function libpqEnvironment(url: string): Record<string, string> {
  const u = new URL(url);
  const env: Record<string, string> = {
    PGHOST: decodeURIComponent(u.hostname),
    PGPORT: u.port || "5432",
    PGUSER: decodeURIComponent(u.username),
    PGDATABASE: decodeURIComponent(u.pathname.replace(/^\//, "")),
  };
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const params: Record<string, string> = { sslmode: "PGSSLMODE", options: "PGOPTIONS", application_name: "PGAPPNAME", connect_timeout: "PGCONNECT_TIMEOUT" };
  for (const [param, name] of Object.entries(params)) {
    const value = u.searchParams.get(param);
    if (value !== null) env[name] = value;
  }
  return env;
}

/** Environment for a pg tool: the parent's, less any inherited PG* setting, plus this connection's. */
function toolEnvironment(url: string): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));
  return { ...inherited, ...libpqEnvironment(url) };
}

export function dumpAndRestore(sourceUrl: string, targetUrl: string, serverMajor: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // Arguments carry no connection string: each tool connects from its environment (libpqEnvironment).
    const dump = spawn(pgToolPath("pg_dump", serverMajor), ["--format=custom"], { env: toolEnvironment(sourceUrl) });
    const target = libpqEnvironment(targetUrl);
    const restore = spawn(pgToolPath("pg_restore", serverMajor), ["--exit-on-error", `--dbname=${target.PGDATABASE}`], { env: toolEnvironment(targetUrl) });
    let stderr = "";
    dump.stderr.on("data", (d) => (stderr += d));
    restore.stderr.on("data", (d) => (stderr += d));
    dump.stdout.pipe(restore.stdin);
    let exits = 0;
    let failed = false;
    const done = (code: number | null, tool: string) => {
      if (code !== 0 && !failed) {
        failed = true;
        // Connection strings never reach the message: only the tool and its stderr.
        reject(new Error(`${tool} exited with ${code}: ${stderr.trim()}`));
      }
      if (++exits === 2 && !failed) resolve();
    };
    dump.on("error", reject);
    restore.on("error", reject);
    dump.on("close", (c) => done(c, "pg_dump"));
    restore.on("close", (c) => done(c, "pg_restore"));
  });
}
