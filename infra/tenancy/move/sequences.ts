import type { Client } from "pg";

/**
 * Logical replication does not carry sequences. At the freeze, each sequence owned by a tenant table's column is
 * set in the target to at least the source's value, so the target never hands out a value already used. Sequences
 * are shared by every tenant of a database, so the target only ever moves forward. Returns what was set.
 */
export async function moveSequences(source: Client, target: Client, tables: string[]): Promise<string[]> {
  const owned = `SELECT s.oid::regclass::text AS seq FROM pg_catalog.pg_class s
    JOIN pg_catalog.pg_depend d ON d.objid = s.oid AND d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
    JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
    WHERE s.relkind = 'S' AND t.relnamespace = 'public'::regnamespace AND t.relname = ANY($1::text[]) ORDER BY 1`;
  const sequences = (await source.query<{ seq: string }>(owned, [tables])).rows.map((r) => r.seq);
  const set: string[] = [];
  for (const seq of sequences) {
    // The name comes from the catalog as regclass text (already quoted where needed).
    const { rows } = await source.query<{ v: string; called: boolean }>(`SELECT last_value::text AS v, is_called AS called FROM ${seq}`);
    if (!rows[0]!.called) continue;
    await target.query(`SELECT pg_catalog.setval($1::regclass, greatest($2::bigint, (SELECT last_value FROM ${seq})), true)`, [seq, rows[0]!.v]);
    set.push(`${seq} ≥ ${rows[0]!.v}`);
  }
  return set;
}
