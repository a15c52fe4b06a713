import { formatProgress, planBackfill, runBackfill } from "../../infra/tenancy/backfill";
import { confirm } from "./confirm";
import type { Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";

/** `bloom backfill [--dry-run] [--batch-size N] [--legacy <clinic>]` on the stack's app branch (docs/runbooks/backfill.md). */
export async function backfillCommand(ctx: StackContext, opts: { dryRun?: boolean; yes?: boolean; batchSize?: number; legacy?: string; say: Say }): Promise<void> {
  const url = await ctx.output<string>("migratorDatabaseUrl");
  if (opts.batchSize !== undefined && (!Number.isInteger(opts.batchSize) || opts.batchSize < 1 || opts.batchSize > 50_000)) {
    throw new Error(`--batch-size ${opts.batchSize}: a whole number from 1 to 50000 (1000 keeps each batch's locks short)`);
  }
  const plan = await planBackfill({ url });
  for (const p of plan) opts.say(`${p.table.padEnd(12)} ${String(p.nullRows).padStart(10)} rows without clinic_id${p.resumeAfter ? `  (resumes after key ${p.resumeAfter})` : ""}${p.finished ? "  [done before]" : ""}`);
  opts.say(`legacy clinic: ${opts.legacy ?? "legacy"}; batches of ${opts.batchSize ?? 1000} by primary key; lock_timeout 100 ms with retries`);
  if (opts.dryRun || !(await confirm("Run the backfill?", opts.yes ?? false))) return;
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const res = await runBackfill({
    url,
    batchSize: opts.batchSize,
    legacyClinicId: opts.legacy,
    onProgress: (p) => {
      if (tty) process.stderr.write(`\r${formatProgress(p)}   `);
      else if (Date.now() - lastLine > 5_000) {
        lastLine = Date.now();
        opts.say(formatProgress(p));
      }
    },
  });
  if (tty) process.stderr.write("\n");
  opts.say(`done: ${Object.entries(res.updated).map(([t, n]) => `${t} ${n}`).join(", ")}; ${res.retries} lock retries; validated ${res.validated.length ? res.validated.join(", ") : "no pending constraint"}`);
}
