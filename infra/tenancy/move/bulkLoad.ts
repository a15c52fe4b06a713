import type { Client } from "pg";
import { quoteIdent } from "../../naming";
import { FENCE_TRIGGER } from "../tenantFence";

/**
 * Loading into a database that holds no tenant rows at all (a new dedicated database the app is not routed to
 * yet) need not pay per-row foreign-key checks, index maintenance and the fence trigger: measured here, they made a
 * binary COPY of 1 M rows 4x slower. The target's foreign keys, keys and indexes are recorded in the move's journal,
 * dropped, and rebuilt after the copy (keys and indexes by one sort each; foreign keys NOT VALID, then VALIDATE:
 * one pass per key); the fence trigger is disabled meanwhile. Both steps are idempotent,
 * so a move killed in between puts the schema back when it resumes or is aborted. A live target (the pool, on
 * return) is always loaded row by row, with every check in place.
 */
export interface BulkLoadPlan {
  foreignKeys: { table: string; name: string; definition: string }[];
  /** Primary keys and unique constraints: rebuilt by one sort each after the load instead of row by row. */
  keys?: { table: string; name: string; definition: string }[];
  /** Other indexes, as pg_get_indexdef gives them, with their table (journals written before it was recorded lack it). */
  indexes?: { name: string; definition: string; table?: string }[];
  /** Tables whose replica identity is one of those indexes: dropping it loses the setting, so it is set again. */
  replicaIdentities?: { table: string; index: string }[];
  tables: string[];
}

/** The plan, if every tenant table of the target is empty; undefined otherwise (load row by row). */
export async function bulkLoadPlan(target: Client, tables: string[]): Promise<BulkLoadPlan | undefined> {
  for (const t of tables) {
    if ((await target.query(`SELECT 1 FROM "public".${quoteIdent(t)} LIMIT 1`)).rowCount) return undefined;
  }
  const { rows } = await target.query<{ table: string; name: string; definition: string }>(
    `SELECT c.relname AS table, k.conname AS name, pg_catalog.pg_get_constraintdef(k.oid) AS definition
     FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
     WHERE k.contype = 'f' AND c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1) ORDER BY 1, 2`, [tables]);
  const keys = (await target.query<{ table: string; name: string; definition: string }>(
    `SELECT c.relname AS table, k.conname AS name, pg_catalog.pg_get_constraintdef(k.oid) AS definition
     FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
     WHERE k.contype IN ('p', 'u') AND c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1) ORDER BY 1, 2`, [tables])).rows;
  const indexes = (await target.query<{ name: string; definition: string; table: string }>(
    `SELECT i.relname AS name, pg_catalog.pg_get_indexdef(x.indexrelid) AS definition, c.relname AS table FROM pg_catalog.pg_index x
     JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
     WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = x.indexrelid) ORDER BY 1`, [tables])).rows;
  const replicaIdentities = (await target.query<{ table: string; index: string }>(
    `SELECT c.relname AS table, i.relname AS index FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
     JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
     WHERE x.indisreplident AND c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1) ORDER BY 1`, [tables])).rows;
  return { foreignKeys: rows, keys, indexes, replicaIdentities, tables };
}

export async function relaxForBulkLoad(target: Client, plan: BulkLoadPlan): Promise<void> {
  for (const fk of plan.foreignKeys) await target.query(`ALTER TABLE "public".${quoteIdent(fk.table)} DROP CONSTRAINT IF EXISTS ${quoteIdent(fk.name)}`);
  for (const ix of plan.indexes ?? []) await target.query(`DROP INDEX IF EXISTS "public".${quoteIdent(ix.name)}`);
  for (const k of plan.keys ?? []) await target.query(`ALTER TABLE "public".${quoteIdent(k.table)} DROP CONSTRAINT IF EXISTS ${quoteIdent(k.name)}`);
  for (const t of plan.tables) await target.query(`ALTER TABLE "public".${quoteIdent(t)} DISABLE TRIGGER ${FENCE_TRIGGER}`);
}

/**
 * Puts every recorded key, index and foreign key back (validated) and re-enables the fence trigger. `alongside`:
 * more connections to the same database, which take the key, index and validation statements from the same queue
 * (statements on different tables, or only reading the parent, do not wait on each other); foreign keys are added
 * (NOT VALID: no scan) one at a time on `target` once every key exists, since adding one locks its parent.
 */
export async function restoreAfterBulkLoad(target: Client, plan: BulkLoadPlan, alongside: Client[] = []): Promise<void> {
  const constraints = async () => new Map((await target.query<{ name: string; validated: boolean }>(
    `SELECT conname AS name, convalidated AS validated FROM pg_catalog.pg_constraint WHERE contype IN ('f', 'p', 'u') AND connamespace = 'public'::regnamespace`)).rows.map((r) => [r.name, r.validated]));
  const t = (table: string) => `"public".${quoteIdent(table)}`;
  const lanes = [target, ...alongside];
  const bySize = await tablesBySize(target, plan.tables);
  const inLanes = (statements: { table: string; sql: string }[]) => {
    const queue = interleaveByTable(statements, bySize);
    return Promise.all(lanes.map(async (c) => {
      for (let sql = queue.shift(); sql; sql = queue.shift()) await c.query(sql);
    }));
  };
  const keys = await constraints();
  await inLanes([
    ...(plan.keys ?? []).filter((k) => !keys.has(k.name)).map((k) => ({ table: k.table, sql: `ALTER TABLE ${t(k.table)} ADD CONSTRAINT ${quoteIdent(k.name)} ${k.definition}` })),
    ...(plan.indexes ?? []).map((ix) => ({ table: ix.table ?? ix.name, sql: ix.definition.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX IF NOT EXISTS ") })),
  ]);
  for (const r of plan.replicaIdentities ?? []) await target.query(`ALTER TABLE ${t(r.table)} REPLICA IDENTITY USING INDEX ${quoteIdent(r.index)}`);
  const present = await constraints();
  for (const fk of plan.foreignKeys) {
    if (!present.has(fk.name)) await target.query(`ALTER TABLE ${t(fk.table)} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition.replace(/\s+NOT VALID$/, "")} NOT VALID`);
  }
  await inLanes(plan.foreignKeys.filter((fk) => !present.get(fk.name)).map((fk) => ({ table: fk.table, sql: `ALTER TABLE ${t(fk.table)} VALIDATE CONSTRAINT ${quoteIdent(fk.name)}` })));
  for (const table of plan.tables) await target.query(`ALTER TABLE ${t(table)} ENABLE TRIGGER ${FENCE_TRIGGER}`);
}

/** The tables, largest on disk first (right after a load too, when the planner has no estimates yet). */
export async function tablesBySize(c: Client, tables: string[]): Promise<string[]> {
  const { rows } = await c.query<{ table: string }>(
    `SELECT c.relname AS table FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1)
     ORDER BY pg_catalog.pg_relation_size(c.oid) DESC, c.relname`, [tables]);
  return rows.map((r) => r.table);
}

/**
 * Statements in an order where neighbours touch different tables, the largest tables' first: a key, an index or a
 * validation locks its table against the next one on the same table, so two lanes on one table take turns.
 */
function interleaveByTable(statements: { table: string; sql: string }[], bySize: string[]): string[] {
  const rank = (table: string) => { const i = bySize.indexOf(table); return i < 0 ? bySize.length : i; };
  const groups = [...new Set(statements.map((s) => s.table))].sort((a, b) => rank(a) - rank(b)).map((table) => statements.filter((s) => s.table === table).map((s) => s.sql));
  const out: string[] = [];
  for (let i = 0; groups.some((g) => i < g.length); i++) for (const g of groups) if (i < g.length) out.push(g[i]!);
  return out;
}
