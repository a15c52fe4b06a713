import type { Client } from "pg";

/**
 * The tenant tables in foreign-key order, as levels: every table's parents sit in earlier levels, so the tables of
 * one level have no dependencies among them and can be copied in parallel. Reversed, the order of a purge.
 * References of a table to itself are fine (a COPY checks its foreign keys at the end of the statement).
 */
export async function foreignKeyLevels(c: Client, tables: readonly string[]): Promise<string[][]> {
  const { rows } = await c.query<{ child: string; parent: string }>(
    `SELECT DISTINCT ch.relname AS child, pa.relname AS parent FROM pg_catalog.pg_constraint k
     JOIN pg_catalog.pg_class ch ON ch.oid = k.conrelid JOIN pg_catalog.pg_class pa ON pa.oid = k.confrelid
     WHERE k.contype = 'f' AND ch.relnamespace = 'public'::regnamespace AND pa.relnamespace = 'public'::regnamespace`);
  return levelsOf(tables, rows);
}

export function levelsOf(tables: readonly string[], edges: readonly { child: string; parent: string }[]): string[][] {
  const wanted = new Set(tables);
  const parents = new Map(tables.map((t) => [t, new Set<string>()]));
  for (const e of edges) if (wanted.has(e.child) && wanted.has(e.parent) && e.child !== e.parent) parents.get(e.child)!.add(e.parent);
  const levels: string[][] = [];
  const placed = new Set<string>();
  while (placed.size < tables.length) {
    const level = tables.filter((t) => !placed.has(t) && [...parents.get(t)!].every((p) => placed.has(p))).sort();
    if (!level.length) {
      const cycle = tables.filter((t) => !placed.has(t));
      throw new Error(`the tenant tables ${cycle.join(", ")} reference each other in a cycle: a tenant move cannot order them (make one of the foreign keys DEFERRABLE)`);
    }
    level.forEach((t) => placed.add(t));
    levels.push(level);
  }
  return levels;
}
