import type { Client } from "pg";
import { quoteIdent, quoteLiteral } from "../../naming";
import type { ColumnType } from "./tableCopy";

/**
 * What an online move's stream changed in the target since the copy (migration 20261207000000): a trigger per
 * operation on each tenant table records the replica-identity key of every row inserted, updated or deleted there
 * for the moving tenant. The triggers fire ALWAYS, so also in the subscription's apply worker (which runs as a
 * replica, where ordinary triggers stay silent). Installed after the copy committed and before the subscription
 * exists, they see every change the stream makes; everything else in the target is the copy, verified against
 * the source at its snapshot. Under the fence only the captured keys are compared (verifyChangesSince).
 */
const OPERATIONS = [
  { op: "INSERT", suffix: "i", when: (t: string) => `NEW."clinic_id" = ${t}` },
  { op: "UPDATE", suffix: "u", when: (t: string) => `OLD."clinic_id" = ${t} OR NEW."clinic_id" = ${t}` },
  { op: "DELETE", suffix: "d", when: (t: string) => `OLD."clinic_id" = ${t}` },
] as const;

/** Trigger names carry the move's tag, so another move's (or a leftover's) are told apart. */
const triggerName = (move: string, suffix: string) => `${move}_capture_${suffix}`;

/** The columns the subscriber finds a row by (the replica identity's index, else the primary key), in index order. */
export async function identityColumns(c: Client, table: string): Promise<ColumnType[]> {
  const { rows } = await c.query<ColumnType>(
    `SELECT a.attname AS column, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = ('"public".' || $1)::regclass
       AND i.indexrelid = coalesce((SELECT x.indexrelid FROM pg_catalog.pg_index x WHERE x.indrelid = i.indrelid AND x.indisreplident),
                                   (SELECT x.indexrelid FROM pg_catalog.pg_index x WHERE x.indrelid = i.indrelid AND x.indisprimary))
     ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum)`, [quoteIdent(table)]);
  if (!rows.length) throw new Error(`table "${table}" has neither a replica identity index nor a primary key: an online move cannot find its rows`);
  return rows;
}

/**
 * Idempotent: the move's triggers on every table (replaced if present), enabled ALWAYS. A table's triggers are one
 * short transaction under a brief lock_timeout, retried: a return's target is the pool, whose other tenants'
 * writes must not queue behind a trigger waiting for a long transaction.
 */
export async function installChangeCapture(target: Client, move: string, tenantId: string, tables: string[]): Promise<void> {
  for (const table of tables) {
    const t = `"public".${quoteIdent(table)}`;
    const args = [move, ...(await identityColumns(target, table)).map((k) => k.column)].map(quoteLiteral).join(", ");
    await withBriefLocks(target, OPERATIONS.flatMap(({ op, suffix, when }) => {
      const name = quoteIdent(triggerName(move, suffix));
      return [
        `CREATE OR REPLACE TRIGGER ${name} AFTER ${op} ON ${t} FOR EACH ROW WHEN (${when(quoteLiteral(tenantId))}) EXECUTE FUNCTION "bloom_platform"."capture_move_change"(${args})`,
        `ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${name}`,
      ];
    }));
  }
}

/** The statements in one transaction under `lock_timeout` 200 ms; on a lock timeout (55P03), again, up to 50 times. */
async function withBriefLocks(c: Client, statements: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await c.query("BEGIN");
    try {
      await c.query("SET LOCAL lock_timeout = '200ms'");
      for (const s of statements) await c.query(s);
      await c.query("COMMIT");
      return;
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      if ((err as { code?: string }).code !== "55P03" || attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1_000, 20 * attempt)));
    }
  }
}

/** Idempotent: the move's triggers dropped from every table that has them, and what they recorded. */
export async function dropChangeCapture(target: Client, move: string): Promise<void> {
  const { rows } = await target.query<{ tbl: string; tgname: string }>(
    `SELECT c.relname AS tbl, t.tgname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'public'::regnamespace AND t.tgname = ANY ($1)`, [OPERATIONS.map((o) => triggerName(move, o.suffix))]);
  await withBriefLocks(target, [
    ...rows.map((r) => `DROP TRIGGER IF EXISTS ${quoteIdent(r.tgname)} ON "public".${quoteIdent(r.tbl)}`),
    `DELETE FROM "bloom_platform"."move_changes" WHERE "move" = ${quoteLiteral(move)}`,
  ]);
}

export interface CapturedChanges {
  /** The keys (as JSON objects of the identity columns) of every row the stream touched. */
  keys: Record<string, unknown>[];
  /** How many of them a row had when the copy loaded. */
  loaded: number;
}

export async function capturedChanges(target: Client, move: string, table: string): Promise<CapturedChanges> {
  const { rows } = await target.query<{ key: Record<string, unknown>; loaded: boolean }>(
    `SELECT "key", "loaded" FROM "bloom_platform"."move_changes" WHERE "move" = $1 AND "table_name" = $2`, [move, table]);
  return { keys: rows.map((r) => r.key), loaded: rows.filter((r) => r.loaded).length };
}

/** Capture triggers of any move, and rows they recorded, in this database: what the kill trials check is left. */
export async function changeCaptureLeftovers(c: Client): Promise<string[]> {
  const triggers = (await c.query<{ n: string }>(`SELECT 'trigger ' || t.tgname || ' on ' || c.relname AS n FROM pg_catalog.pg_trigger t
    JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE 'bloom\\_move\\_%\\_capture\\_%'`)).rows;
  const table = (await c.query<{ t: string | null }>(`SELECT pg_catalog.to_regclass('"bloom_platform"."move_changes"')::text AS t`)).rows[0]!.t;
  const recorded = table ? (await c.query<{ n: string }>(`SELECT 'captured changes of ' || "move" AS n FROM "bloom_platform"."move_changes" GROUP BY "move"`)).rows : [];
  return [...triggers, ...recorded].map((r) => r.n);
}
