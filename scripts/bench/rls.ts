import { parseArgs } from "node:util";
import { median } from "./stats";
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { serverAdminUrl } from "../../infra/database/local/localPostgresBackend";
import { quoteIdent } from "../../infra/naming";
import { withBenchDatabase } from "./benchDatabase";
import { setTenancyMode } from "../../infra/tenancy/rlsModes";
import { runWithTenant } from "@bloom/tenant-runtime";

/**
 * bench:rls — a tenant-scoped indexed query (one clinic's appointments on one day) over N appointments (default
 * 1 M, 100 clinics) on the app's real path: each query is a runWithTenant unit of work (BEGIN, set_config,
 * the parameterized query over the extended protocol, COMMIT). Both arms pay the same wrapper; only RLS differs:
 * the RLS-bound app role in enforce mode vs the migrator (BYPASSRLS). Interleaved in one run, on ONE connection
 * (the server's admin, which takes the arm's role for the transaction with SET LOCAL ROLE, in both arms): two
 * connections' backends are woken with different latencies on a small VM (measured here: 3x apart, and which one
 * is slow flips between runs), which swamped the difference RLS makes.
 * Headline: rls-overhead-app-path (target <= 1.10); the bare query-only ratio on the line before.
 */
const { values } = parseArgs({ options: { rows: { type: "string", default: "1000000" }, queries: { type: "string", default: "3000" } } });
const rows = Number(values.rows);
const queries = Number(values.queries);

async function main() {
  await withBenchDatabase("rls", async ({ url, app, serverUrl }) => {
    await setTenancyMode(url, "enforce");
    const seed = new Client({ connectionString: url });
    await seed.connect();
    console.log(`loading ${rows.toLocaleString("en")} appointments over 100 clinics…`);
    await seed.query(`INSERT INTO clinic (id, name) SELECT 'c' || g, 'Clinic ' || g FROM generate_series(1, 100) g`);
    await seed.query(`INSERT INTO branch (id, name, clinic_id) SELECT 'b' || g, 'B', 'c' || g FROM generate_series(1, 100) g`);
    await seed.query(`INSERT INTO therapist (id, name, branch_id, clinic_id) SELECT 't' || g, 'T', 'b' || g, 'c' || g FROM generate_series(1, 100) g`);
    // Patient p<n> belongs to clinic c<1 + (n-1) % 100>, the clinic of every appointment that references it
    // (the composite foreign keys refuse anything else).
    await seed.query(`INSERT INTO patient (id, name, clinic_id) SELECT 'p' || g, 'P', 'c' || (1 + (g - 1) % 100) FROM generate_series(1, 10000) g`);
    await seed.query(`INSERT INTO appointment (id, patient_id, therapist_id, branch_id, date, hour, clinic_id)
      SELECT 'a' || g, 'p' || (1 + (g % 100) + 100 * ((g / 100) % 100)), 't' || (1 + g % 100), 'b' || (1 + g % 100),
             DATE '2026-01-01' + (g / 100 % 365), lpad((8 + g % 10)::text, 2, '0') || ':00', 'c' || (1 + g % 100)
      FROM generate_series(1, $1::int) g`, [rows]);
    await seed.query("ANALYZE");
    await seed.end();

    const admin = new Client({ connectionString: serverAdminUrl(serverUrl, url) });
    await admin.connect();
    const bound = quoteIdent(app.name);
    const bypass = quoteIdent(decodeURIComponent(new URL(url).username));
    const q = `SELECT id, hour FROM appointment WHERE clinic_id = $1 AND date = $2`;
    const arms = { rls: { total: [] as number[], query: [] as number[] }, plain: { total: [] as number[], query: [] as number[] } };
    // One unit of work as the app runs it; returns the row count, and times the whole unit and the query alone.
    async function unit(role: string, clinic: string, day: string, into: { total: number[]; query: number[] }, keep: boolean): Promise<number> {
      const start = performance.now();
      let queryMs = 0;
      const rowCount = await runWithTenant(admin, clinic, async (c) => {
        await c.query(`SET LOCAL ROLE ${role}`);
        const t = performance.now();
        const res = await c.query(q, [clinic, day]);
        queryMs = performance.now() - t;
        return res.rowCount ?? 0;
      });
      if (keep) {
        into.total.push(performance.now() - start);
        into.query.push(queryMs);
      }
      return rowCount;
    }
    for (let i = 0; i < queries + 200; i++) {
      const clinic = `c${1 + (i % 100)}`;
      const day = new Date(Date.UTC(2026, 0, 1 + (i % 365))).toISOString().slice(0, 10);
      const keep = i >= 200; // warm-up
      // Alternate which arm goes first, so neither always runs on a warmer cache.
      const [first, second] = i % 2 ? [[bound, arms.rls], [bypass, arms.plain]] as const : [[bypass, arms.plain], [bound, arms.rls]] as const;
      const a = await unit(first[0], clinic, day, first[1], keep);
      const b = await unit(second[0], clinic, day, second[1], keep);
      if (a !== b) throw new Error(`RLS changed the answer for ${clinic} on ${day}: ${a} vs ${b}`);
    }
    const plan = await runWithTenant(admin, "c1", async (c) => {
      await c.query(`SET LOCAL ROLE ${bound}`);
      return c.query(`EXPLAIN ${q.replace("$1", "'c1'").replace("$2", "'2026-01-02'")}`);
    });
    await admin.end();
    console.log(`plan with RLS: ${plan.rows.map((r) => r["QUERY PLAN"]).join(" / ")}`);
    const ratio = (k: "total" | "query") => median(arms.rls[k]) / median(arms.plain[k]);
    console.log(`app path (BEGIN, set_config, SET LOCAL ROLE, query, COMMIT): with RLS median ${median(arms.rls.total).toFixed(3)} ms; without ${median(arms.plain.total).toFixed(3)} ms (${queries} units each, interleaved)`);
    console.log(`rls-overhead-query-only = ${ratio("query").toFixed(2)} (the query statement alone: ${median(arms.rls.query).toFixed(3)} vs ${median(arms.plain.query).toFixed(3)} ms)`);
    console.log(`rls-overhead-app-path = ${ratio("total").toFixed(2)} (target <= 1.10)`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
