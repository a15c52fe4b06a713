import { Client } from "pg";
import { quoteIdent } from "../naming";

/**
 * Playbook phase 1: set clinic_id to the legacy clinic wherever it is NULL — in batches by primary-key range, never
 * one statement over a table. Each batch and its progress row commit together, so a run killed at any point resumes
 * where it stopped and sets every row exactly once. Batches take row locks only, wait at most `lockTimeoutMs` for a
 * row the app holds, and are retried with backoff. Afterwards: a check that no NULL is left, then the validation of
 * the `CHECK (clinic_id IS NOT NULL) NOT VALID` constraints (SHARE UPDATE EXCLUSIVE: writes go on).
 */
export interface BackfillOptions {
  /** Migrator connection (BYPASSRLS: it must see every row). */
  url: string;
  legacyClinicId?: string;
  batchSize?: number;
  lockTimeoutMs?: number;
  maxRetriesPerBatch?: number;
  tables?: string[];
  dryRun?: boolean;
  /** Skip the constraint validation (tests of the batching alone). */
  validate?: boolean;
  onProgress?: (p: BackfillProgress) => void;
}

export interface BackfillProgress {
  table: string;
  done: number;
  total: number;
  rowsPerSecond: number;
  etaSeconds: number | undefined;
}

export interface BackfillPlan {
  table: string;
  nullRows: number;
  resumeAfter: string | null;
  finished: boolean;
}

export const BACKFILL_TABLES = ["user", "branch", "therapist", "patient", "paquete", "appointment", "payment"];
// In the platform schema, out of the app role's reach; the backfill may run before the migration that creates it.
const PROGRESS = '"bloom_platform"."backfill_progress"';
const LOCK_NOT_AVAILABLE = "55P03";

async function connect(url: string): Promise<Client> {
  const c = new Client({ connectionString: url, application_name: "bloom-backfill" });
  await c.connect();
  await c.query(`CREATE SCHEMA IF NOT EXISTS "bloom_platform"; REVOKE ALL ON SCHEMA "bloom_platform" FROM PUBLIC`);
  await c.query(`CREATE TABLE IF NOT EXISTS ${PROGRESS} (table_name TEXT PRIMARY KEY, last_key TEXT, rows_done BIGINT NOT NULL DEFAULT 0,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(), updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), finished_at TIMESTAMPTZ)`);
  return c;
}

export async function planBackfill(opts: BackfillOptions): Promise<BackfillPlan[]> {
  const c = await connect(opts.url);
  try {
    const plans: BackfillPlan[] = [];
    for (const table of opts.tables ?? BACKFILL_TABLES) {
      const nulls = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(table)} WHERE clinic_id IS NULL`);
      const progress = await c.query<{ last_key: string | null; finished_at: Date | null }>(`SELECT last_key, finished_at FROM ${PROGRESS} WHERE table_name = $1`, [table]);
      plans.push({ table, nullRows: Number(nulls.rows[0]!.n), resumeAfter: progress.rows[0]?.last_key ?? null, finished: !!progress.rows[0]?.finished_at });
    }
    return plans;
  } finally {
    await c.end();
  }
}

export async function runBackfill(opts: BackfillOptions): Promise<{ updated: Record<string, number>; retries: number; validated: string[] }> {
  const plans = await planBackfill(opts);
  if (opts.dryRun) return { updated: Object.fromEntries(plans.map((p) => [p.table, 0])), retries: 0, validated: [] };
  const c = await connect(opts.url);
  const legacy = opts.legacyClinicId ?? "legacy";
  const batch = opts.batchSize ?? 1_000;
  const updated: Record<string, number> = {};
  let retries = 0;
  try {
    await c.query(`SET lock_timeout = ${Math.max(1, opts.lockTimeoutMs ?? 100)}`);
    for (const plan of plans) {
      const t = quoteIdent(plan.table);
      updated[plan.table] = 0;
      const start = Date.now();
      let last = plan.resumeAfter;
      for (;;) {
        let attempt = 0;
        let step: { last: string | null; n: number };
        for (;;) {
          try {
            await c.query("BEGIN");
            const res = await c.query<{ last: string | null; n: string }>(
              `WITH batch AS (SELECT id FROM ${t} WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2),
                    upd AS (UPDATE ${t} SET clinic_id = $3 FROM batch WHERE ${t}.id = batch.id AND ${t}.clinic_id IS NULL RETURNING 1)
               SELECT (SELECT max(id) FROM batch) AS last, (SELECT count(*) FROM upd) AS n`,
              [last, batch, legacy],
            );
            step = { last: res.rows[0]!.last, n: Number(res.rows[0]!.n) };
            await c.query(
              `INSERT INTO ${PROGRESS} (table_name, last_key, rows_done) VALUES ($1, $2, $3)
               ON CONFLICT (table_name) DO UPDATE SET last_key = COALESCE(EXCLUDED.last_key, ${PROGRESS}.last_key),
                 rows_done = ${PROGRESS}.rows_done + EXCLUDED.rows_done, updated_at = now(),
                 finished_at = CASE WHEN EXCLUDED.last_key IS NULL THEN now() ELSE NULL END`,
              [plan.table, step.last, step.n],
            );
            await c.query("COMMIT");
            break;
          } catch (err) {
            await c.query("ROLLBACK").catch(() => undefined);
            if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE || attempt >= (opts.maxRetriesPerBatch ?? 20)) {
              throw new Error(`backfill of ${plan.table} stopped after key ${last ?? "(start)"}: ${(err as Error).message}. Rerun to resume from there`);
            }
            retries++;
            await new Promise((r) => setTimeout(r, Math.round(Math.random() * 20 * 2 ** Math.min(attempt++, 6))));
          }
        }
        updated[plan.table] = (updated[plan.table] ?? 0) + step.n;
        if (step.last === null) break;
        last = step.last;
        const elapsed = (Date.now() - start) / 1000;
        const rate = updated[plan.table]! / Math.max(elapsed, 0.001);
        opts.onProgress?.({ table: plan.table, done: updated[plan.table]!, total: plan.nullRows, rowsPerSecond: rate, etaSeconds: rate > 0 ? Math.max(0, plan.nullRows - updated[plan.table]!) / rate : undefined });
      }
    }
    const left = await planBackfill({ ...opts, dryRun: true });
    const remaining = left.filter((p) => p.nullRows > 0);
    if (remaining.length) throw new Error(`rows without clinic_id remain after the backfill: ${remaining.map((p) => `${p.table} (${p.nullRows})`).join(", ")}; rerun, and check the app writes clinic_id`);
    const validated = opts.validate === false ? [] : await validateClinicIdChecks(c, plans.map((p) => p.table));
    return { updated, retries, validated };
  } finally {
    await c.end();
  }
}

/** VALIDATE the NOT VALID checks on clinic_id (idempotent; already-valid constraints are skipped). */
async function validateClinicIdChecks(c: Client, tables: string[]): Promise<string[]> {
  const { rows } = await c.query<{ table_name: string; conname: string }>(
    `SELECT rel.relname AS table_name, con.conname FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
     WHERE con.contype = 'c' AND NOT con.convalidated AND con.conname = rel.relname || '_clinic_id_not_null' AND rel.relname = ANY($1)`,
    [tables],
  );
  for (const r of rows) await c.query(`ALTER TABLE ${quoteIdent(r.table_name)} VALIDATE CONSTRAINT ${quoteIdent(r.conname)}`);
  return rows.map((r) => r.conname);
}

/** A one-line progress bar: `patient  1,234,000/5,000,000  24.7%  85,100 rows/s  ETA 44 s`. */
export function formatProgress(p: BackfillProgress): string {
  const pct = p.total ? ((100 * p.done) / p.total).toFixed(1) : "100.0";
  const eta = p.etaSeconds === undefined ? "?" : `${Math.ceil(p.etaSeconds)} s`;
  return `${p.table.padEnd(12)} ${p.done.toLocaleString("en")}/${p.total.toLocaleString("en")}  ${pct}%  ${Math.round(p.rowsPerSecond).toLocaleString("en")} rows/s  ETA ${eta}`;
}
