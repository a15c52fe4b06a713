import { withControlPlane } from "../../infra/controlPlane/client";
import { CONTROL_PLANE_TASK_QUEUE, deployMigrationsWorkflowId, type MigrationsOutcome } from "../../infra/controlPlane/contract";
import type { deployMigrations, MigrationsProgress } from "../../infra/controlPlane/workflows";
import type { Say } from "../runbook/snapshotCommands";
import type { StackContext } from "../runbook/stackContext";
import { MigrationHookError } from "../../infra/migrations/deployToTargets";
import { followWorkflow } from "./followWorkflow";
import { reachControlPlane } from "./stackControlPlane";

/**
 * `bloom migrate deploy --all --workflow [--detach]`: the fleet-wide deploy on the control plane (`deployMigrations`:
 * each database behind its own snapshot, as an activity any worker runs, `bloom:migrations.concurrency` at a
 * time), followed with a line as databases finish and the same lines as the direct deploy; a failed database is
 * named with the snapshot to roll back to, and the command fails.
 */
export async function migrateOnControlPlane(ctx: StackContext, opts: { detach: boolean; say: Say }): Promise<MigrationsOutcome | undefined> {
  const { say } = opts;
  const cp = await reachControlPlane(ctx, say);
  if (!cp.endpoint) throw new Error(`--workflow: no control plane for this stack (${cp.why}); run the deploy without --workflow`);
  const { stack } = cp;
  const workflowId = deployMigrationsWorkflowId(ctx.stackName);
  return withControlPlane(cp.endpoint, async (client) => {
    const handle = await client.workflow.start<typeof deployMigrations>("deployMigrations", {
      taskQueue: CONTROL_PLANE_TASK_QUEUE, workflowId, args: [{ stack, concurrency: ctx.config.migrations.concurrency }], workflowIdConflictPolicy: "USE_EXISTING",
    });
    say(`control plane: the migration deploy of ${ctx.stackName}'s databases runs as workflow ${workflowId}`);
    if (opts.detach) {
      say(`detached: it goes on without this command; the same command follows it again`);
      return undefined;
    }
    let shown = -1;
    const outcome = await followWorkflow<MigrationsOutcome, MigrationsProgress>(handle, {
      what: `the migration deploy of ${ctx.stackName}`, say,
      progress: (p) => {
        if (p.step === "deploying" && p.done !== shown) say(`control plane: ${(shown = p.done)} of ${p.total} databases deployed${p.running.length ? `; running ${p.running.join(", ")}` : ""}`);
      },
    });
    for (const o of outcome.deployed) say(`${o.target}: ${o.applied.length} applied${o.snapshot ? ` (snapshot ${o.snapshot})` : ""}`);
    if (outcome.failed.length) throw new MigrationHookError(outcome.failed.map((f) => ({ target: f.target, snapshot: f.snapshot, error: new Error(f.error) })), outcome.deployed);
    return outcome;
  });
}
