import { spawn } from "node:child_process";

/** The baseline the copy benchmarks are measured against: `pg_dump -Fc | pg_restore` of one database into another. */
export function pgDumpRestore(sourceUrl: string, targetUrl: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Connection strings through the environment (PG* variables), never on a command line.
    const env = (u: string) => { const x = new URL(u); return { ...process.env, PGHOST: x.hostname, PGPORT: x.port || "5432", PGUSER: decodeURIComponent(x.username), PGPASSWORD: decodeURIComponent(x.password), PGDATABASE: x.pathname.slice(1) }; };
    const dump = spawn("pg_dump", ["-Fc", "--no-owner", "--no-privileges"], { env: env(sourceUrl), stdio: ["ignore", "pipe", "inherit"] });
    const restore = spawn("pg_restore", ["--no-owner", "--no-privileges", "-d", new URL(targetUrl).pathname.slice(1)], { env: env(targetUrl), stdio: ["pipe", "inherit", "inherit"] });
    dump.stdout.pipe(restore.stdin);
    let done = 0;
    const finish = (what: string) => (code: number | null) => {
      if (code !== 0) return reject(new Error(`${what} exited ${code}`));
      if (++done === 2) resolve();
    };
    dump.on("exit", finish("pg_dump"));
    restore.on("exit", finish("pg_restore"));
  });
}
