import type { CatalogRow, MoveDirection } from "./moveJournal";
import { executeMove, describeLocation, type TenantMoveOptions } from "./moveRun";
import { copyModePlan } from "./moveSteps";
import type { TableCopyResult, TableFingerprint } from "./tableCopy";

export { MoveRefused } from "./moveRunner";
export type { MoveHooks, TenantMoveOptions } from "./moveRun";

/**
 * Moves one tenant between the pool and its dedicated database (extract: pool → dedicated; return: the way back),
 * copy-then-switch: the copy mode's plan (moveSteps.ts) run by the step runner (moveRunner.ts). Every step is
 * journaled in the pool's catalog row; a rerun resumes, `abortTenantMove` undoes.
 */
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
  if (direction === "extract" && row.isolation === "dedicated") return `tenant "${tenantId}" is already dedicated (${describeLocation(row.location)}): nothing to extract`;
  if (direction === "return" && row.isolation === "pooled") return `tenant "${tenantId}" is already in the pool: nothing to return`;
  const target = direction === "extract" ? "dedicated" : "pool";
  if (row.pendingPurge && row.pendingPurge.location.kind === target) {
    return `the ${target === "pool" ? "pool" : "dedicated database"} still holds tenant "${tenantId}"'s copy from the move of ${row.pendingPurge.movedAt} (purge due ${row.pendingPurge.after}): purge it first with \`bloom tenants purge ${tenantId} --now\``;
  }
  return undefined;
}

export async function runTenantMove(opts: TenantMoveOptions): Promise<MoveSummary> {
  const run = await executeMove(copyModePlan, opts, (row) => refusal(row, opts.tenantId, opts.direction, false));
  const { journal } = run;
  const freezeMs = run.cutoverAt - Date.parse(journal.fencedAt!);
  const byTable = new Map(run.copied.map((c) => [c.table, c]));
  const tables = Object.keys(journal.verified!).map((t) => ({ ...(byTable.get(t) ?? { table: t, rows: journal.copied[t]?.rows ?? 0, bytes: journal.copied[t]?.bytes ?? 0, ms: 0 }), ...journal.verified![t]! }));
  run.log(`cutover: ${opts.tenantId} now lives in ${describeLocation(journal.to)}; the copy in ${describeLocation(journal.from)} is fenced and purged after ${run.purgeAfter}`);
  return {
    tenantId: opts.tenantId, direction: opts.direction, resumed: run.resumed, tables,
    rows: tables.reduce((n, t) => n + t.rows, 0), bytes: tables.reduce((n, t) => n + t.bytes, 0),
    freezeMs, copyMs: run.durations.copy ?? 0, verifyMs: run.durations.verify ?? 0, purgeAfter: run.purgeAfter,
  };
}
