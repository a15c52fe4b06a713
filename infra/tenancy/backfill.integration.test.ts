import { spawn } from "node:child_process";
import path from "node:path";
import { Client } from "pg";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../config/stackFile";
import { applyPendingMigrations } from "../migrations/applyPendingMigrations";
import { loadMigrations } from "../migrations/migrationSource";
import { BACKFILL_TABLES, formatProgress, planBackfill, runBackfill } from "./backfill";
import { freshMigratorDatabase } from "../../test/databases";
import { query, requirePostgres } from "../../test/postgres";
import { databaseAwaitingBackfill } from "../../test/tenancyFixtures";

type Db = Awaited<ReturnType<typeof freshMigratorDatabase>>;

/** Records every NULL → clinic transition, so "each row set exactly once" is checked, not assumed. */
async function auditBackfill(url: string) {
  await query(url, `CREATE TABLE backfill_audit (table_name text, id text)`);
  await query(url, `CREATE FUNCTION backfill_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF OLD.clinic_id IS NULL AND NEW.clinic_id IS NOT NULL THEN INSERT INTO backfill_audit VALUES (TG_TABLE_NAME, NEW.id); END IF; RETURN NEW; END $$`);
  for (const t of BACKFILL_TABLES) await query(url, `CREATE TRIGGER audit_${t} AFTER UPDATE OF clinic_id ON "${t}" FOR EACH ROW EXECUTE FUNCTION backfill_audit_row()`);
}

describe("batched backfill of clinic_id on real Postgres", () => {
  const dbs: Db[] = [];
  beforeAll(() => requirePostgres());
  afterEach(async () => {
    while (dbs.length) await dbs.pop()!.drop();
  });
  const fresh = async (patients: number) => {
    const db = await freshMigratorDatabase("bf");
    dbs.push(db);
    await databaseAwaitingBackfill(db.url, db.database, patients);
    return db;
  };

  it("--dry-run reports the plan and NULL counts and changes nothing", async () => {
    const db = await fresh(1_000);
    const plan = await planBackfill({ url: db.url });
    expect(plan.find((p) => p.table === "patient")).toMatchObject({ nullRows: 1_000, resumeAfter: null, finished: false });
    await runBackfill({ url: db.url, dryRun: true });
    expect(await query(db.url, `SELECT count(*)::int AS n FROM "patient" WHERE clinic_id IS NULL`)).toEqual([{ n: 1_000 }]);
  });

  it("sets every NULL in batches, reports progress, then validates the NOT NULL checks so the next migration applies", async () => {
    const db = await fresh(3_000);
    const lines: string[] = [];
    const res = await runBackfill({ url: db.url, batchSize: 500, onProgress: (p) => lines.push(formatProgress(p)) });
    expect(res.updated.patient).toBe(3_000);
    expect(lines.some((l) => /^patient\s+\d[\d,]*\/3,000\s+\d+\.\d%\s+[\d,]+ rows\/s\s+ETA \d+ s$/.test(l))).toBe(true);
    expect(await query(db.url, `SELECT count(*)::int AS n FROM "patient" WHERE clinic_id <> 'legacy' OR clinic_id IS NULL`)).toEqual([{ n: 0 }]);
    // The phase-1 checks deploy next (NOT VALID); a backfill rerun finds nothing to set and validates them.
    const all = loadMigrations(path.join(REPO_ROOT, "prisma", "migrations"));
    await applyPendingMigrations(db.url, all.filter((m) => m.name <= "20260301000000_phase1_clinic_id_checks"), { database: db.database });
    const rerun = await runBackfill({ url: db.url });
    expect(rerun.updated.patient).toBe(0);
    expect(rerun.validated.sort()).toEqual(BACKFILL_TABLES.map((t) => `${t}_clinic_id_not_null`).sort());
    const rest = await applyPendingMigrations(db.url, all, { database: db.database });
    expect(rest.applied[0]).toBe("20260301000100_phase1_validate_clinic_id");
  });

  it("resumes after kill -9 at a random batch and sets every row exactly once", async () => {
    const db = await fresh(20_000);
    await auditBackfill(db.url);
    const stopAfter = 2_000 + Math.floor(Math.random() * 10_000);
    const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "test", "fixtures", "backfillChild.ts")], { env: { ...process.env, BACKFILL_URL: db.url, BACKFILL_BATCH: "200" }, stdio: "ignore" });
    const watcher = new Client({ connectionString: db.url });
    await watcher.connect();
    let done = 0;
    while (done < stopAfter) {
      await new Promise((r) => setTimeout(r, 5));
      done = Number((await watcher.query(`SELECT coalesce(sum(rows_done), 0) AS n FROM bloom_platform.backfill_progress`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0]!.n);
      if (child.exitCode !== null) break;
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    await watcher.end();
    const partial = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM "patient" WHERE clinic_id IS NULL`);
    expect(partial[0]!.n, `killed after ${done} rows`).toBeGreaterThan(0);
    await runBackfill({ url: db.url, batchSize: 200 });
    const twice = await query(db.url, `SELECT table_name, id, count(*) FROM backfill_audit GROUP BY 1, 2 HAVING count(*) > 1`);
    expect(twice).toEqual([]);
    const audited = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM backfill_audit WHERE table_name = 'patient'`);
    expect(audited[0]!.n).toBe(20_000);
    expect(await query(db.url, `SELECT count(*)::int AS n FROM "patient" WHERE clinic_id IS NULL`)).toEqual([{ n: 0 }]);
  });

  it("waits out a row lock the app holds (short lock_timeout, retry with backoff) instead of failing or blocking it", async () => {
    const db = await fresh(2_000);
    const app = new Client({ connectionString: db.url });
    await app.connect();
    await app.query("BEGIN");
    await app.query(`UPDATE "patient" SET name = 'busy' WHERE id = 'p-00000700'`);
    setTimeout(() => void app.query("COMMIT"), 400);
    const res = await runBackfill({ url: db.url, batchSize: 250, lockTimeoutMs: 50, validate: false });
    await app.end();
    expect(res.retries).toBeGreaterThan(0);
    expect(res.updated.patient).toBe(2_000);
  });
});
