import { mapSettledWithLimit } from "../../concurrency";
import { withClient } from "../../database/sql/withClient";
import { isoSeconds } from "../../time";
import { fenceTenant, unfenceTenant } from "../tenantFence";
import { tenantRowCount } from "../tenantCatalog";
import { recordTableCopied, settleCatalogRow } from "./moveJournal";
import { MoveRefused, VerificationFailed, type MoveStep } from "./moveRunner";
import type { MovePlan, MoveRun } from "./moveRun";
import { bulkLoadPlan, relaxForBulkLoad, restoreAfterBulkLoad } from "./bulkLoad";
import { deleteTenantRows } from "./purgeCopy";
import { foreignKeyLevels } from "./tableOrder";
import { copyClinicRow, sameFingerprint, tenantTableFingerprint, type TableFingerprint } from "./tableCopy";
import { copyTenantTables } from "./snapshotCopy";

/**
 * The steps both moves share, and the copy mode's plan:
 *   declare → provision → preflight → fence → copy → verify → cutover.
 * The tenant's writes are refused (SQLSTATE BL503, retryable) from the fence to the cutover: that is the freeze.
 */
type Step = MoveStep<MoveRun>;

/** The stack config declares the tenant's new isolation; undone, its old one. */
export const declare: Step = {
  name: "declare",
  run: (m) => m.opts.hooks.declare(m.direction === "extract" ? "dedicated" : "pooled"),
  undo: (m) => m.opts.hooks.declare(m.journal.from.kind === "pool" ? "pooled" : "dedicated"),
};

/** Extract: the dedicated database is made (the stacks' `up`). Return: it is the source, and must exist. */
export const provision: Step = {
  name: "provision",
  async run(m) {
    if (m.direction === "extract") m.useDedicated(await m.opts.hooks.provisionDedicated());
    else await m.requiredUrl("source");
  },
};

/** Before anything reaches the target: both databases at the same migrations, and no rows of the tenant in the target. */
export const preflight: Step = {
  name: "preflight",
  async run(m) {
    const [source, target] = await Promise.all([m.client("source"), m.client("target")]);
    const applied = async (c: typeof source) => (await c.query<{ n: string }>(
      `SELECT "migration_name" AS n FROM "public"."_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL ORDER BY 1`)).rows.map((r) => r.n);
    const [s, t] = await Promise.all([applied(source), applied(target)]);
    if (s.join() !== t.join()) {
      throw new MoveRefused(`source and target databases are at different migrations (source ${s.length}, latest ${s.at(-1)}; target ${t.length}, latest ${t.at(-1)}): deploy the migrations to both first (bloom migrate deploy)`);
    }
    const held = await tenantRowCount(target, m.tenantId);
    if (held > 0) throw new MoveRefused(`the target database already holds ${held} rows of tenant "${m.tenantId}"'s tables: nothing was changed; find out where they came from, and purge them (\`bloom tenants purge\`) before moving`);
  },
};

/** Lifts the fence at the source (the undo of either move's fence). */
export async function liftFence(m: MoveRun): Promise<void> {
  const source = await m.optionalClient("source");
  if (source) await unfenceTenant(source, m.tenantId);
}

/** Removes what reached the target: the tenant's rows, a relaxed schema put back, an extract's clinic row. */
export async function clearTarget(m: MoveRun): Promise<number> {
  const target = await m.optionalClient("target");
  if (!target) return 0; // never provisioned: it holds nothing of the tenant
  const deleted = await deleteTenantRows(target, m.tenantId, { log: m.log });
  if (m.journal.bulkLoad) await restoreAfterBulkLoad(target, m.journal.bulkLoad); // the target's schema as it was
  if (m.direction === "extract") await target.query(`DELETE FROM "public"."clinic" WHERE "id" = $1`, [m.tenantId]);
  const rows = Object.values(deleted).reduce((a, b) => a + b, 0);
  m.deletedFromTarget += rows;
  if (rows) m.log(`deleted ${rows} copied rows of ${m.tenantId} from the target`);
  return rows;
}

/** Copy mode: the source refuses the tenant's writes from here (a bulk load planned first, while the target is empty). */
const fenceForCopy: Step = {
  name: "fence",
  async run(m) {
    const bulkLoad = await bulkLoadPlan(await m.client("target"), await m.tables());
    await fenceTenant(await m.client("source"), m.tenantId, "moving");
    m.log(`fenced ${m.tenantId} at its source: its writes are refused until the cutover`);
    return { fencedAt: new Date().toISOString(), ...(bulkLoad ? { bulkLoad } : {}) };
  },
  undo: liftFence,
};

/** Table by table in foreign-key order (or all at once into a relaxed, empty target); resumes past committed tables. */
const copy: Step = {
  name: "copy",
  async run(m) {
    const [source, target, tables] = [await m.client("source"), await m.client("target"), await m.tables()];
    const bulkLoad = m.journal.bulkLoad;
    if (bulkLoad) await relaxForBulkLoad(target, bulkLoad);
    // Without the target's foreign keys, no table waits for another: all copy at once (bounded).
    const levels = bulkLoad ? [tables] : await foreignKeyLevels(source, tables);
    await copyClinicRow(source, target, m.tenantId);
    const done = m.journal.copied;
    let recorded = Promise.resolve();
    m.copied = await copyTenantTables({
      sourceUrl: await m.requiredUrl("source"), targetUrl: await m.requiredUrl("target"), tenantId: m.tenantId, levels,
      concurrency: m.opts.concurrency ?? 3, log: m.log, session: m.lease,
      skip: (table) => Boolean(done[table]),
      // Tables of a level finish concurrently: each recorded on its own (no read-modify-write of the journal), one
      // statement at a time on the pool's connection.
      onCopied: (r) => {
        m.journal.copied = { ...m.journal.copied, [r.table]: { rows: r.rows, bytes: r.bytes } };
        return (recorded = recorded.then(() => recordTableCopied(m.pool, m.tenantId, r.table, { rows: r.rows, bytes: r.bytes }, m.lease)));
      },
    });
    if (bulkLoad) await restoreAfterBulkLoad(target, bulkLoad);
  },
  undo: async (m) => void (await clearTarget(m)),
};

/** Counts and checksums of every table on both sides (tables in parallel, each on its own pair of connections). */
export const verify: Step = {
  name: "verify",
  async run(m) {
    const [sourceUrl, targetUrl, tables] = [await m.requiredUrl("source"), await m.requiredUrl("target"), await m.tables()];
    const verified: Record<string, TableFingerprint> = {};
    const mismatched: string[] = [];
    const settled = await mapSettledWithLimit(tables, m.opts.concurrency ?? 3, (t) => Promise.all([
      withClient(sourceUrl, (c) => tenantTableFingerprint(c, t, m.tenantId), m.lease?.sessionTag ?? "bloom-move-verify"),
      withClient(targetUrl, (c) => tenantTableFingerprint(c, t, m.tenantId), m.lease?.sessionTag ?? "bloom-move-verify"),
    ]));
    settled.forEach((r, i) => {
      if (r.status === "rejected") throw r.reason;
      const [s, d] = r.value;
      if (!sameFingerprint(s, d)) mismatched.push(`${tables[i]} (source ${s.rows} rows, target ${d.rows})`);
      verified[tables[i]!] = s;
    });
    if (mismatched.length) throw new VerificationFailed(`verification failed for tenant "${m.tenantId}": ${mismatched.join("; ")}`);
    m.log(`verified ${tables.length} tables: row counts and checksums equal in source and target`);
    return { verified };
  },
};

/**
 * The target accepts the tenant's writes before the catalog sends the app there; the source refuses them from now
 * on, so no acknowledged write lands where it will later be purged. The catalog row settles in one transaction
 * (the journal cleared, the old copy pending purge). Undone (a cutover that did not commit): a return's target, the
 * pool, refuses the tenant's writes again, as it did since the extract.
 */
export const cutover: Step = {
  name: "cutover",
  ends: true,
  async run(m) {
    const [source, target] = [await m.client("source"), await m.client("target")];
    m.purgeAfter = isoSeconds(new Date(Date.now() + m.opts.graceMs));
    await unfenceTenant(target, m.tenantId);
    if (m.direction === "return") await fenceTenant(source, m.tenantId, "moved-out");
    await m.pool.query("BEGIN");
    try {
      await settleCatalogRow(m.pool, m.tenantId, m.journal.to, { location: m.journal.from, movedAt: isoSeconds(), after: m.purgeAfter }, m.lease);
      if (m.direction === "extract") await fenceTenant(m.pool, m.tenantId, "moved-out", { inTransaction: true });
      await m.pool.query("COMMIT");
      m.cutoverAt = Date.now();
    } catch (err) {
      await m.pool.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  },
  async undo(m) {
    if (m.direction !== "return") return;
    const target = await m.optionalClient("target");
    if (target) await fenceTenant(target, m.tenantId, "moved-out");
  },
};

export const copyModePlan: MovePlan = {
  online: false,
  steps: [declare, provision, preflight, fenceForCopy, copy, verify, cutover],
  // A killed or failed copy keeps its fence and journal for a rerun, which resumes; a refusal or a mismatch undoes.
  undoOn: "final",
};
