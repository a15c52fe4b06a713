import type { Client } from "pg";
import { mapSettledWithLimit } from "../../concurrency";
import { withClient } from "../../database/sql/withClient";
import { isoSeconds } from "../../time";
import { fenceTenant, unfenceTenant } from "../tenantFence";
import { tenantDataTables } from "../tenantPolicies";
import { tenantRowCount } from "../tenantCatalog";
import { holdMoveLock, readCatalogRow, recordTableCopied, saveJournal, settleCatalogRow, type CatalogRow, type DedicatedLocation, type MoveDirection, type MoveJournal } from "./moveJournal";
import { foreignKeyLevels } from "./tableOrder";
import { copyClinicRow, tenantTableFingerprint, type TableCopyResult, type TableFingerprint } from "./tableCopy";
import { copyTenantTables } from "./snapshotCopy";
import { bulkLoadPlan, relaxForBulkLoad, restoreAfterBulkLoad } from "./bulkLoad";

/**
 * Moves one tenant between the pool and its dedicated database (extract: pool → dedicated; return: the way back),
 * copy-then-switch:
 *   begin (journal) → declare the isolation in config → provision the target → fence the tenant at the source →
 *   copy table by table in foreign-key order (binary COPY; a level's tables in parallel) → verify counts and
 *   checksums → cutover (catalog repointed, source fenced for good, the old copy pending purge) .
 * The tenant's writes are refused (SQLSTATE BL503, retryable) from the fence to the cutover: that is the freeze.
 * Every step is journaled in the pool's catalog row; a rerun resumes, `abortTenantMove` undoes.
 */
export interface MoveHooks {
  /** Makes the stack config declare this isolation (edits the stack file, like rollback); idempotent. */
  declare(isolation: "pooled" | "dedicated"): Promise<void>;
  /** The dedicated database's migrator URL; for extract this provisions it (the tenant stack's `up`). */
  dedicatedUrl(): Promise<string>;
}

export interface TenantMoveOptions {
  tenantId: string;
  direction: MoveDirection;
  /** Migrator URL of the pool, which holds the catalog. */
  poolUrl: string;
  /** The tenant's dedicated home (its tenant stack and project). */
  dedicated: DedicatedLocation;
  hooks: MoveHooks;
  /** How long the old copy is kept before `purge` may delete it. */
  graceMs: number;
  /** Tables copied at once within a foreign-key level. */
  concurrency?: number;
  log?: (line: string) => void;
}

export interface MoveSummary {
  tenantId: string;
  direction: MoveDirection;
  resumed: boolean;
  tables: (TableCopyResult & TableFingerprint)[];
  rows: number;
  bytes: number;
  /** From the fence to the cutover: how long the tenant's writes were refused. */
  freezeMs: number;
  copyMs: number;
  verifyMs: number;
  purgeAfter: string;
}

export class MoveRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MoveRefused";
  }
}

/** Why this move cannot start or resume (undefined: it can). Checked before anything changes. */
export function refusal(row: CatalogRow | undefined, tenantId: string, direction: MoveDirection, online = false): string | undefined {
  if (!row) return `unknown tenant "${tenantId}": it is not in the pool's catalog — declare it in bloom:tenants and run \`pulumi up\` first`;
  const resume = (m: NonNullable<CatalogRow["move"]>) => `\`bloom tenants ${m.direction} ${tenantId}${m.online ? " --online" : ""}\``;
  if (row.move && row.move.direction !== direction) {
    return `${row.move.direction === "extract" ? "an" : "a"} ${row.move.online ? "online " : ""}${row.move.direction} of tenant "${tenantId}" is in progress (since ${row.move.startedAt}): resume it with ${resume(row.move)} or undo it with \`bloom tenants abort ${tenantId}\``;
  }
  if (row.move && Boolean(row.move.online) !== online) {
    return `${row.move.online ? "an online" : "a copy-mode"} ${row.move.direction} of tenant "${tenantId}" is in progress (since ${row.move.startedAt}): resume it with ${resume(row.move)} or undo it with \`bloom tenants abort ${tenantId}\``;
  }
  if (row.move) return undefined; // resuming
  if (direction === "extract" && row.isolation === "dedicated") return `tenant "${tenantId}" is already dedicated (${describe(row.location)}): nothing to extract`;
  if (direction === "return" && row.isolation === "pooled") return `tenant "${tenantId}" is already in the pool: nothing to return`;
  const target = direction === "extract" ? "dedicated" : "pool";
  if (row.pendingPurge && row.pendingPurge.location.kind === target) {
    return `the ${target === "pool" ? "pool" : "dedicated database"} still holds tenant "${tenantId}"'s copy from the move of ${row.pendingPurge.movedAt} (purge due ${row.pendingPurge.after}): purge it first with \`bloom tenants purge ${tenantId} --now\``;
  }
  return undefined;
}

const describe = (l: CatalogRow["location"]) => (l.kind === "pool" ? "the pool" : `stack ${l.stack}, project ${l.project}`);

/** Under the tenant's move lock (held until `pool` closes): its catalog row, or the refusal. */
export async function lockForMove(pool: Client, opts: Pick<TenantMoveOptions, "tenantId" | "direction">, online: boolean): Promise<CatalogRow> {
  await holdMoveLock(pool, opts.tenantId);
  const row = await readCatalogRow(pool, opts.tenantId);
  const refused = refusal(row, opts.tenantId, opts.direction, online);
  if (refused) throw new MoveRefused(refused);
  return row!;
}

/** The journal a move starts with: from where the tenant is, to the other side. */
export function newJournal(row: CatalogRow, opts: Pick<TenantMoveOptions, "direction" | "dedicated">, startedAt = isoSeconds()): MoveJournal {
  return { direction: opts.direction, from: row.location, to: opts.direction === "extract" ? opts.dedicated : { kind: "pool" }, startedAt, step: "begun", copied: {} };
}

export async function runTenantMove(opts: TenantMoveOptions): Promise<MoveSummary> {
  const { tenantId, direction } = opts;
  const log = opts.log ?? (() => undefined);
  return withClient(opts.poolUrl, async (pool) => {
    const row = await lockForMove(pool, opts, false);
    const resumed = Boolean(row.move);
    let journal: MoveJournal = row.move ?? newJournal(row, opts);
    if (!resumed) await saveJournal(pool, tenantId, journal);
    log(`${resumed ? "resuming" : "starting"} ${direction} of ${tenantId} (${describe(journal.from)} → ${describe(journal.to)}), last step: ${journal.step}`);

    await opts.hooks.declare(direction === "extract" ? "dedicated" : "pooled");
    const dedicatedUrl = await opts.hooks.dedicatedUrl();
    const [sourceUrl, targetUrl] = direction === "extract" ? [opts.poolUrl, dedicatedUrl] : [dedicatedUrl, opts.poolUrl];

    return withClient(sourceUrl, (source) => withClient(targetUrl, async (target) => {
      const tables = await tenantDataTables(source);
      if (journal.step === "begun") {
        await preflight(source, target, tenantId);
        const bulkLoad = await bulkLoadPlan(target, tables);
        await fenceTenant(source, tenantId, "moving");
        journal = { ...journal, step: "fenced", fencedAt: new Date().toISOString(), ...(bulkLoad ? { bulkLoad } : {}) };
        await saveJournal(pool, tenantId, journal);
        log(`fenced ${tenantId} at ${describe(journal.from)}: its writes are refused until the cutover`);
      } else {
        await fenceTenant(source, tenantId, "moving"); // a crash may have come before the fence committed
      }
      const copyStarted = Date.now();
      let copied: TableCopyResult[] = [];
      if (journal.step === "fenced") {
        if (journal.bulkLoad) await relaxForBulkLoad(target, journal.bulkLoad);
        // Without the target's foreign keys, no table waits for another: all copy at once (bounded).
        const levels = journal.bulkLoad ? [tables] : await foreignKeyLevels(source, tables);
        await copyClinicRow(source, target, tenantId);
        copied = await copyTenantTables({
          sourceUrl, targetUrl, tenantId, levels, concurrency: opts.concurrency ?? 3, log,
          skip: (table) => Boolean(journal.copied[table]),
          onCopied: (r) => recordTableCopied(pool, tenantId, r.table, { rows: r.rows, bytes: r.bytes }),
        });
        if (journal.bulkLoad) await restoreAfterBulkLoad(target, journal.bulkLoad);
      }
      const copyMs = Date.now() - copyStarted;
      const verifyStarted = Date.now();
      let verified: Record<string, TableFingerprint>;
      try {
        verified = journal.verified ?? (await verify(sourceUrl, targetUrl, tenantId, tables, opts.concurrency ?? 3));
      } catch (err) {
        // A rerun copies every table again (each copy replaces the target's rows of that table).
        await saveJournal(pool, tenantId, (journal = { ...journal, copied: {} }));
        throw err;
      }
      if (journal.step !== "verified") {
        journal = { ...journal, step: "verified", verified };
        await saveJournal(pool, tenantId, journal);
      }
      const verifyMs = Date.now() - verifyStarted;
      log(`verified ${tables.length} tables: row counts and checksums equal in source and target`);

      const purgeAfter = await cutover(pool, source, target, tenantId, journal, opts.graceMs);
      const freezeMs = Date.now() - Date.parse(journal.fencedAt!);
      const byTable = new Map(copied.map((c) => [c.table, c]));
      const summary = tables.map((t) => ({ ...(byTable.get(t) ?? { table: t, rows: journal.copied[t]?.rows ?? 0, bytes: journal.copied[t]?.bytes ?? 0, ms: 0 }), ...verified[t]! }));
      log(`cutover: ${tenantId} now lives in ${describe(journal.to)}; the copy in ${describe(journal.from)} is fenced and purged after ${purgeAfter}`);
      return {
        tenantId, direction, resumed, tables: summary,
        rows: summary.reduce((n, t) => n + t.rows, 0), bytes: summary.reduce((n, t) => n + t.bytes, 0),
        freezeMs, copyMs, verifyMs, purgeAfter,
      };
    }, "bloom-move-target"), "bloom-move-source");
  }, "bloom-move");
}

/**
 * Cutover. The target must accept the tenant's writes before the catalog sends the app there; the source refuses
 * them from now on, so no acknowledged write lands where it will later be purged. Returns when the purge is due.
 */
export async function cutover(pool: Client, source: Client, target: Client, tenantId: string, journal: MoveJournal, graceMs: number): Promise<string> {
  const purgeAfter = isoSeconds(new Date(Date.now() + graceMs));
  await unfenceTenant(target, tenantId);
  if (journal.direction === "return") await fenceTenant(source, tenantId, "moved-out");
  await pool.query("BEGIN");
  try {
    await settleCatalogRow(pool, tenantId, journal.to, { location: journal.from, movedAt: isoSeconds(), after: purgeAfter });
    if (journal.direction === "extract") await fenceTenant(pool, tenantId, "moved-out", { inTransaction: true });
    await pool.query("COMMIT");
  } catch (err) {
    await pool.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
  return purgeAfter;
}

/** Before the fence: both databases at the same migrations, and no rows of the tenant in the target yet. */
export async function preflight(source: Client, target: Client, tenantId: string): Promise<void> {
  const applied = async (c: Client) => (await c.query<{ n: string }>(
    `SELECT "migration_name" AS n FROM "public"."_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL ORDER BY 1`)).rows.map((r) => r.n);
  const [s, t] = await Promise.all([applied(source), applied(target)]);
  if (s.join() !== t.join()) {
    throw new MoveRefused(`source and target databases are at different migrations (source ${s.length}, latest ${s.at(-1)}; target ${t.length}, latest ${t.at(-1)}): deploy the migrations to both first (bloom migrate deploy)`);
  }
  const held = await tenantRowCount(target, tenantId);
  if (held > 0) throw new MoveRefused(`the target database already holds ${held} rows of tenant "${tenantId}"'s tables: nothing was changed; find out where they came from, and purge them (\`bloom tenants purge\`) before moving`);
}


/** Counts and checksums of every table on both sides (tables in parallel, each on its own pair of connections). */
export async function verify(sourceUrl: string, targetUrl: string, tenantId: string, tables: string[], concurrency: number): Promise<Record<string, TableFingerprint>> {
  const out: Record<string, TableFingerprint> = {};
  const mismatched: string[] = [];
  const settled = await mapSettledWithLimit(tables, concurrency, (t) => Promise.all([
    withClient(sourceUrl, (c) => tenantTableFingerprint(c, t, tenantId), "bloom-move-verify"),
    withClient(targetUrl, (c) => tenantTableFingerprint(c, t, tenantId), "bloom-move-verify"),
  ]));
  settled.forEach((r, i) => {
    if (r.status === "rejected") throw r.reason;
    const [s, d] = r.value;
    if (s.rows !== d.rows || s.checksum !== d.checksum) mismatched.push(`${tables[i]} (source ${s.rows} rows, target ${d.rows})`);
    out[tables[i]!] = s;
  });
  if (mismatched.length) {
    throw new Error(`verification failed for tenant "${tenantId}": ${mismatched.join("; ")}. The tenant stays fenced at its source; rerun to copy again, or \`bloom tenants abort ${tenantId}\``);
  }
  return out;
}
