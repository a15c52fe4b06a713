import type { Client } from "pg";
import type { TenantRecord } from "../tenantCatalog";
import type { TableFingerprint } from "./tableCopy";
import type { BulkLoadPlan } from "./bulkLoad";
import { leaseGuardSql } from "../../coordination/lease";
import type { MoveLease } from "./moveLease";

/**
 * A move's journal lives in the tenant's catalog row in the pool (`bloom_platform.tenants.move`): every step is
 * recorded before the next begins, so a move killed at any point resumes where it stopped (or is aborted).
 */
export type MoveDirection = "extract" | "return";
export type TenantLocation = TenantRecord["location"];
export type DedicatedLocation = Extract<TenantLocation, { kind: "dedicated" }>;

export interface MoveJournal {
  direction: MoveDirection;
  from: TenantLocation;
  to: TenantLocation;
  startedAt: string;
  /** The last step completed (`begun`: none yet); the steps are the plan's (moveSteps.ts, onlineMove.ts). */
  step: string;
  /** A step with an undo that has started and not completed: an abort undoes it too. */
  running?: string;
  /** Online moves (row-filtered logical replication): the names of what it made on each side. */
  online?: { publication: string; slot: string; subscription: string };
  fencedAt?: string;
  /** Online moves: the source's WAL position right after the fence; the subscriber must confirm it. */
  fenceLsn?: string;
  /** Set when the target held no tenant rows: its foreign keys, dropped for the copy and put back after it. */
  bulkLoad?: BulkLoadPlan;
  /** Tables whose copy committed in the target, with what was copied. */
  copied: Record<string, { rows: number; bytes: number }>;
  verified?: Record<string, TableFingerprint>;
  /**
   * Online moves: each table's rows as the copy loaded them, equal in source (at the copy's snapshot) and target;
   * the stream's changes since are captured in the target (changeCapture.ts) and verified under the fence.
   */
  copyVerified?: Record<string, TableFingerprint>;
}

/** The copy a finished move left at its old location, purged after the grace period. */
export interface PendingPurge {
  location: TenantLocation;
  movedAt: string;
  after: string;
}

export interface CatalogRow {
  id: string;
  isolation: "pooled" | "dedicated";
  location: TenantLocation;
  moveState: "settled" | "extracting" | "returning";
  move: MoveJournal | null;
  pendingPurge: PendingPurge | null;
}

const CATALOG_COLUMNS = `"id", "isolation", "location", "move_state", "move", "pending_purge"`;
interface CatalogDbRow { id: string; isolation: CatalogRow["isolation"]; location: TenantLocation; move_state: CatalogRow["moveState"]; move: MoveJournal | null; pending_purge: PendingPurge | null }
const toCatalogRow = (r: CatalogDbRow): CatalogRow => ({ id: r.id, isolation: r.isolation, location: r.location, moveState: r.move_state, move: r.move && fromEarlierJournal(r.move), pendingPurge: r.pending_purge });

/** A journal written before moves were step lists named its state, not its last step: the same point, renamed. */
function fromEarlierJournal(move: MoveJournal): MoveJournal {
  switch (move.step) {
    case "replicating": return { ...move, step: "preflight", running: "replicate" }; // anything may have streamed in
    case "fenced": return { ...move, step: "fence" };
    case "verified": return { ...move, step: "verify" };
    default: return move;
  }
}

export async function readCatalogRow(pool: Client, tenantId: string): Promise<CatalogRow | undefined> {
  const { rows } = await pool.query<CatalogDbRow>(`SELECT ${CATALOG_COLUMNS} FROM "bloom_platform"."tenants" WHERE "id" = $1`, [tenantId]);
  return rows[0] && toCatalogRow(rows[0]);
}

export async function listCatalog(pool: Client): Promise<CatalogRow[]> {
  return (await pool.query<CatalogDbRow>(`SELECT ${CATALOG_COLUMNS} FROM "bloom_platform"."tenants" ORDER BY "id"`)).rows.map(toCatalogRow);
}

/** A mover's catalog write: with its lease, it commits only while that lease's token still holds it. */
async function writeCatalog(pool: Client, sql: string, params: unknown[], lease: MoveLease | undefined): Promise<void> {
  if (!lease) {
    await pool.query(sql, params);
    return;
  }
  const res = await pool.query(`${sql} AND ${leaseGuardSql(params.length + 1, params.length + 2)}`, [...params, lease.name, lease.token]);
  if (res.rowCount) return;
  await lease.check();
  throw new Error(`tenant "${String(params[0])}" is not in the pool's catalog any more`);
}

export async function saveJournal(pool: Client, tenantId: string, journal: MoveJournal, lease?: MoveLease): Promise<void> {
  await writeCatalog(pool,
    `UPDATE "bloom_platform"."tenants" SET "move" = $2, "move_state" = $3, "move_started_at" = coalesce("move_started_at", now()), "updated_at" = now() WHERE "id" = $1`,
    [tenantId, JSON.stringify(journal), journal.direction === "extract" ? "extracting" : "returning"], lease);
}

/** One table's copy recorded on its own (tables of a level finish concurrently: no read-modify-write of the journal). */
export async function recordTableCopied(pool: Client, tenantId: string, table: string, copied: { rows: number; bytes: number }, lease?: MoveLease): Promise<void> {
  await writeCatalog(pool, `UPDATE "bloom_platform"."tenants" SET "move" = jsonb_set("move", ARRAY['copied', $2::text], $3::jsonb) WHERE "id" = $1`,
    [tenantId, table, JSON.stringify(copied)], lease);
}

/** Ends a move in the catalog: the tenant settled at `location`, with its old copy (if any) pending purge. */
export async function settleCatalogRow(pool: Client, tenantId: string, location: TenantLocation, pendingPurge: PendingPurge | null, lease?: MoveLease): Promise<void> {
  await writeCatalog(pool,
    `UPDATE "bloom_platform"."tenants" SET "isolation" = $2, "location" = $3, "move" = NULL, "move_state" = 'settled', "move_started_at" = NULL,
       "pending_purge" = $4, "updated_at" = now() WHERE "id" = $1`,
    [tenantId, location.kind === "pool" ? "pooled" : "dedicated", JSON.stringify(location), pendingPurge && JSON.stringify(pendingPurge)], lease);
}

/** The old copy a move left is gone (purged, or erased with the tenant): nothing pending any more. */
export async function clearPendingPurge(pool: Client, tenantId: string): Promise<void> {
  await pool.query(`UPDATE "bloom_platform"."tenants" SET "pending_purge" = NULL, "updated_at" = now() WHERE "id" = $1`, [tenantId]);
}
