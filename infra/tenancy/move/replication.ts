import { createHash } from "node:crypto";
import type { Client } from "pg";
import { quoteIdent, quoteLiteral } from "../../naming";
import { changeCaptureLeftovers, dropChangeCapture } from "./changeCapture";

/**
 * Row-filtered logical replication of one tenant between two databases (PostgreSQL 15+): a publication on the
 * source with `WHERE (clinic_id = '<id>')` per tenant table, a slot made separately (both databases may sit on one
 * server, where a subscription cannot create its own; it exports the snapshot the initial copy reads,
 * snapshotCopy.ts), and a subscription on the target that streams every change after it. Every function here is idempotent: a move killed anywhere re-runs them.
 */
export interface ReplicationNames {
  publication: string;
  slot: string;
  subscription: string;
}

/** Names for one move: short (identifiers ≤ 63 bytes, slot names [a-z0-9_]), unique per tenant and start. */
export function replicationNames(tenantId: string, startedAt: string): ReplicationNames {
  const tag = createHash("sha256").update(`${tenantId}\0${startedAt}`).digest("hex").slice(0, 12);
  return { publication: `bloom_move_${tag}`, slot: `bloom_move_${tag}`, subscription: `bloom_move_${tag}` };
}

export interface ServerReadiness {
  problems: string[];
  walLevel: string;
}

/**
 * What the source server lacks for a logical move, each with the setting to change. A move holds one slot and one
 * WAL sender at a time (the connection exporting the copy's snapshot, then the subscription's).
 */
export async function replicationReadiness(source: Client, slotsNeeded = 1): Promise<ServerReadiness> {
  const { rows } = await source.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders', 'server_version_num')`);
  const s = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  const used = Number((await source.query<{ n: string }>(`SELECT count(*) AS n FROM pg_catalog.pg_replication_slots`)).rows[0]!.n);
  const problems: string[] = [];
  if (Number(s.server_version_num) < 150000) problems.push(`the server runs PostgreSQL ${s.server_version_num}: row filters on publications need 15 or later`);
  if (s.wal_level !== "logical") problems.push(`wal_level is ${s.wal_level}: set wal_level = logical and restart the server (the local stack's embedded server: \`npm run local -- stop\`, then rerun; Neon: enable logical replication on the project)`);
  const free = Number(s.max_replication_slots) - used;
  if (free < slotsNeeded) problems.push(`max_replication_slots = ${s.max_replication_slots} with ${used} in use: ${slotsNeeded} free slot(s) needed; raise it (restart) or drop unused slots`);
  if (Number(s.max_wal_senders) < slotsNeeded) problems.push(`max_wal_senders = ${s.max_wal_senders}: at least ${slotsNeeded} needed; raise it (restart)`);
  return { problems, walLevel: s.wal_level! };
}

/** Tenant tables whose replica identity does not include clinic_id (an UPDATE/DELETE row filter would fail on them). */
export async function tablesWithoutTenantIdentity(source: Client, tables: string[]): Promise<string[]> {
  const { rows } = await source.query<{ table: string }>(
    `SELECT c.relname AS "table" FROM pg_catalog.pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1::text[])
       AND NOT EXISTS (
         SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indrelid = c.oid AND a.attname = 'clinic_id'
           AND ((c.relreplident = 'i' AND i.indisreplident) OR (c.relreplident = 'd' AND i.indisprimary)))
       AND c.relreplident <> 'f'
     ORDER BY 1`, [tables]);
  return rows.map((r) => r.table);
}

export async function ensurePublication(source: Client, name: string, tables: string[], tenantId: string): Promise<void> {
  const exists = (await source.query(`SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1`, [name])).rowCount;
  if (exists) return;
  const filter = `WHERE ("clinic_id" = ${quoteLiteral(tenantId)})`;
  await source.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${tables.map((t) => `"public".${quoteIdent(t)} ${filter}`).join(", ")}
    WITH (publish = 'insert, update, delete')`);
}

export async function subscriptionExists(target: Client, name: string): Promise<boolean> {
  return Boolean((await target.query(`SELECT 1 FROM pg_catalog.pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`, [name])).rowCount);
}

/**
 * The subscription on the target, over `sourceConninfo` (kept by Postgres in pg_subscription, readable only by
 * superusers; never logged here). It copies the tenant's rows once, then applies the stream.
 */
export async function ensureSubscription(target: Client, names: ReplicationNames, sourceConninfo: string): Promise<void> {
  if (await subscriptionExists(target, names.subscription)) return;
  // The rows are already there as of the slot's snapshot (snapshotCopy.ts): stream from the slot, copy nothing.
  await target.query(`CREATE SUBSCRIPTION ${quoteIdent(names.subscription)} CONNECTION ${quoteLiteral(sourceConninfo)} PUBLICATION ${quoteIdent(names.publication)}
    WITH (create_slot = false, slot_name = ${quoteLiteral(names.slot)}, copy_data = false, enabled = true)`);
}

/** Bytes of WAL the subscriber has not confirmed yet on `slot` (undefined: no such slot). */
export async function slotLagBytes(source: Client, slot: string): Promise<number | undefined> {
  const row = (await source.query<{ bytes: string | null }>(
    `SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS bytes FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
    [slot])).rows[0];
  return row && Number(row.bytes ?? 0);
}

/** The stream's lag: unconfirmed WAL bytes, and the replay lag the source's walsender measures (seconds). */
export async function streamLag(source: Client, names: ReplicationNames): Promise<{ bytes: number; seconds: number | null }> {
  const sender = (await source.query<{ s: string | null }>(
    `SELECT extract(epoch FROM replay_lag)::float8 AS s FROM pg_catalog.pg_stat_replication WHERE application_name = $1`, [names.subscription])).rows[0];
  return { bytes: (await slotLagBytes(source, names.slot)) ?? 0, seconds: sender?.s == null ? null : Number(sender.s) };
}

export async function currentLsn(source: Client): Promise<string> {
  return (await source.query<{ lsn: string }>(`SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn`)).rows[0]!.lsn;
}

/** True once the subscriber has flushed everything up to `lsn` (the slot's confirmed position passed it). */
export async function confirmedPast(source: Client, slot: string, lsn: string): Promise<boolean> {
  const { rows } = await source.query<{ done: boolean | null }>(
    `SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, [slot, lsn]);
  if (!rows[0]) throw new Error(`replication slot ${slot} is gone from the source: the move cannot confirm its stream; abort it (\`bloom tenants abort\`) and start again`);
  return rows[0].done === true;
}

/**
 * Ends the replication: subscription (detached from its slot first, so dropping it never needs the source), the
 * slot, then the publication. Safe to call in any state, any number of times; so no slot is left retaining WAL
 * after a move ends or is aborted.
 */
export async function dropReplication(source: Client | undefined, target: Client | undefined, names: ReplicationNames): Promise<void> {
  if (target && (await subscriptionExists(target, names.subscription))) {
    const ident = quoteIdent(names.subscription);
    await target.query(`ALTER SUBSCRIPTION ${ident} DISABLE`);
    await target.query(`ALTER SUBSCRIPTION ${ident} SET (slot_name = NONE)`);
    await target.query(`DROP SUBSCRIPTION ${ident}`);
  }
  if (target) await dropChangeCapture(target, names.subscription); // after the stream stopped: nothing left to capture
  if (!source) return;
  // A disabled subscription's walsender may take a second or more to let go of the slot (measured here: up to
  // 1.7 s, under the fence); the slot is this move's alone and its subscription gone, so its walsender is ended.
  for (let attempt = 0; ; attempt++) {
    const slot = (await source.query<{ active_pid: number | null }>(`SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, [names.slot])).rows[0];
    if (!slot) break;
    if (slot.active_pid === null) {
      await source.query(`SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND active_pid IS NULL`, [names.slot]);
      continue;
    }
    await source.query(`SELECT pg_catalog.pg_terminate_backend($1)`, [slot.active_pid]);
    if (attempt >= 300) throw new Error(`replication slot ${names.slot} still in use on the source after 3 s: rerun \`bloom tenants abort\``);
    await new Promise((r) => setTimeout(r, 10));
  }
  await source.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(names.publication)}`);
}

/**
 * Replication objects of any bloom move on these two databases (slots and subscriptions are cluster-wide
 * catalogs: scoped to the database they belong to), and the target's change capture. What the kill trials check
 * is left at the end.
 */
export async function moveReplicationLeftovers(source: Client, target: Client): Promise<string[]> {
  const slots = (await source.query<{ n: string }>(`SELECT 'slot ' || slot_name AS n FROM pg_catalog.pg_replication_slots
    WHERE database = current_database() AND (slot_name LIKE 'bloom\\_move\\_%' OR slot_name LIKE 'pg\\_%\\_sync\\_%')`)).rows;
  const pubs = (await source.query<{ n: string }>(`SELECT 'publication ' || pubname AS n FROM pg_catalog.pg_publication WHERE pubname LIKE 'bloom\\_move\\_%'`)).rows;
  const subs = (await target.query<{ n: string }>(`SELECT 'subscription ' || subname AS n FROM pg_catalog.pg_subscription
    WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) AND subname LIKE 'bloom\\_move\\_%'`)).rows;
  return [...[...slots, ...pubs, ...subs].map((r) => r.n), ...(await changeCaptureLeftovers(target))];
}
