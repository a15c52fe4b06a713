import { performance } from "node:perf_hooks";
import { Client } from "pg";

/**
 * An app-like writer for benches: one connection running `step` over and over, timing every statement, until
 * stopped. Statement times are what a lock-taking operation running alongside must keep short.
 */
export function startAppWriter(url: string, step: (timed: (sql: string, params?: unknown[]) => Promise<void>, i: number) => Promise<void>) {
  const times: number[] = [];
  let stop = false;
  const done = (async () => {
    const c = new Client({ connectionString: url, application_name: "bloom-bench-writer" });
    await c.connect();
    const timed = async (sql: string, params: unknown[] = []) => {
      const t = performance.now();
      await c.query(sql, params);
      times.push(performance.now() - t);
    };
    for (let i = 0; !stop; i++) await step(timed, i);
    await c.end();
  })();
  return { times, async stop() { stop = true; await done; } };
}
