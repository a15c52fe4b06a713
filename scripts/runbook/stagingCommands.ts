import { randomBytes } from "node:crypto";
import { withClient } from "../../infra/database/sql/withClient";
import { applyPendingMigrations } from "../../infra/migrations/applyPendingMigrations";
import { ensureFenceTriggers } from "../../infra/tenancy/tenantFence";
import type { UpResult } from "@pulumi/pulumi/automation";
import { refreshStagingCopy, type DatabaseAt } from "../../infra/staging/refresh";
import { isoSeconds } from "../../infra/time";
import { confirm } from "./confirm";
import { stackMigrations } from "./migrateCommands";
import { repoint, withBackend } from "./rollbackCommands";
import type { Say } from "./snapshotCommands";
import { openStackContext, type StackContext } from "./stackContext";

/**
 * `bloom staging refresh --from prod [--tenants a,b | --sample 10%] [--dry-run] [--yes]`, run on the staging stack:
 * a masked copy of the source's pooled tenants in a new branch of staging's pool, verified, then staging's app
 * pointed at it (bloom:appBranch and `up`, the repoint path). The previous copy is kept, expiring after
 * bloom:stagingCopy.keepPreviousDays; `main` (staging's own data) is never expired. See docs/runbooks/staging-refresh.md.
 */
export interface StagingRefreshOptions {
  from?: string;
  fromConfig?: string;
  tenants?: string;
  sample?: string;
  yes?: boolean;
  dryRun?: boolean;
  say: Say;
}

/** The run key: BLOOM_STAGING_RUN_KEY (hex, at least 16 bytes) to repeat a refresh's values, or a fresh one. */
export function runKeyFromEnvironment(env = process.env): Buffer {
  const given = env.BLOOM_STAGING_RUN_KEY;
  if (given === undefined) return randomBytes(32);
  if (!/^(?:[0-9a-f]{2}){16,64}$/i.test(given)) throw new Error("BLOOM_STAGING_RUN_KEY must be hex, 32 to 128 characters (16 to 64 bytes), e.g. from `openssl rand -hex 32`");
  return Buffer.from(given, "hex");
}

/** A stack's pool at `branch`: its app branch (the source) or its main branch (where a staging copy starts). */
async function poolAt(ctx: StackContext, branch: "appBranchId" | "poolMainBranchId"): Promise<Omit<DatabaseAt, "backend">> {
  const u = new URL(await ctx.output<string>("migratorDatabaseUrl"));
  return { projectId: await ctx.output<string>("poolProjectId"), branchId: await ctx.output<string>(branch), database: await ctx.output<string>("poolDatabaseName"), role: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
}

/** What a deploy leaves on a branch, for a new copy made from staging's main: its migrations and the fence triggers. */
function migrateBranch(ctx: StackContext): (url: string) => Promise<void> {
  return async (url) => {
    await applyPendingMigrations(url, await stackMigrations(ctx), { database: "staging copy" });
    await withClient(url, ensureFenceTriggers);
  };
}

export async function stagingRefresh(ctx: StackContext, opts: StagingRefreshOptions): Promise<UpResult | undefined> {
  const declared = ctx.config.stagingCopy;
  if (!declared) throw new Error(`stack ${ctx.stackName} declares no staging copy: set bloom:stagingCopy (e.g. { from: prod }) in its stack file, run \`up\`, then refresh`);
  if (ctx.config.environment === "prod") throw new Error("a staging copy never lands on prod");
  const from = opts.from ?? declared.from;
  if (from !== declared.from) throw new Error(`--from ${from}: stack ${ctx.stackName} declares its copy from ${declared.from} (bloom:stagingCopy.from); change the declaration first`);
  if (from === ctx.stackName) throw new Error(`--from ${from} is this stack: a copy comes from another stack`);
  if (ctx.config.rollback) throw new Error(`a rollback to ${ctx.config.rollback.to} is in effect on ${ctx.stackName}: run \`bloom rollback --undo\` first`);
  const selection = opts.tenants || opts.sample
    ? { tenants: opts.tenants?.split(",").map((t) => t.trim()).filter(Boolean), sample: opts.sample }
    : { tenants: declared.tenants, sample: declared.sample };
  const source = await openStackContext({ stackName: from, configFile: opts.fromConfig, root: ctx.root });
  const sourceTenants = source.config.tenants.filter((t) => t.isolation === "pooled").map((t) => t.id);
  const runKey = runKeyFromEnvironment();
  const stamp = isoSeconds().replace(/[-:]/g, "").replace("T", "-").replace("Z", "").toLowerCase();
  const previous = ctx.config.appBranch;

  const sourceBackend = await source.backend();
  const targetBackend = await ctx.backend();
  let branch: string | undefined;
  try {
    const spec = {
      source: { backend: sourceBackend, ...(await poolAt(source, "appBranchId")), tenants: sourceTenants },
      target: { backend: targetBackend, ...(await poolAt(ctx, "poolMainBranchId")), prepareBranch: migrateBranch(ctx) },
      selection, runKey, stamp, log: opts.say,
    };
    if (opts.dryRun) {
      await refreshStagingCopy({ ...spec, dryRun: true });
      return undefined;
    }
    if (!(await confirm(`Copy a masked sample of ${from} into a new branch of ${ctx.stackName} and point its app at it?`, opts.yes ?? false))) return undefined;
    const result = await refreshStagingCopy(spec);
    branch = result.branch!.name;
  } finally {
    await sourceBackend.close();
    await targetBackend.close();
  }
  const up = await repoint(ctx, { "bloom:appBranch": branch }, `Point ${ctx.stackName}'s app at ${branch} (from ${previous})?`, { yes: true, say: opts.say });
  if (up && previous.startsWith("copy-")) {
    const expiresAt = isoSeconds(new Date(Date.now() + declared.keepPreviousDays * 86_400_000));
    const projectId = await ctx.output<string>("poolProjectId");
    await withBackend(ctx, async (b) => {
      const old = (await b.listBranches(projectId)).find((x) => x.name === previous);
      if (old) await b.setBranchExpiry(projectId, old.branchId, expiresAt);
    });
    opts.say(`the previous copy ${previous} is kept until ${expiresAt} (bloom:stagingCopy.keepPreviousDays); to go back before then: set bloom:appBranch ${previous} and \`up\``);
  } else if (up) {
    opts.say(`staging's own data stays on branch ${previous}; to go back: set bloom:appBranch ${previous} and \`up\``);
  }
  return up;
}
