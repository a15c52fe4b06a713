import { WorkflowFailedError, type WorkflowHandle } from "@temporalio/client";
import { innermostCause } from "../../infra/controlPlane/contract";
import type { Say } from "../runbook/snapshotCommands";

const FOLLOW_UNREACHABLE_MS = 10 * 60_000;

/**
 * Follows a workflow from the CLI until it closes, then its result. By polling, not one long wait: the server may
 * restart under it (its history is on disk), and following resumes when it is back. Ctrl-C detaches: the workflow
 * goes on, and the same command follows it again. `progress` is called with each answer to the workflow's
 * `progress` query while it runs; a failure is thrown as `what` failed, with its innermost cause.
 */
export async function followWorkflow<R, P>(handle: WorkflowHandle, opts: { what: string; say: Say; progress?: (p: P) => void }): Promise<R> {
  const { say } = opts;
  const detach = () => {
    say(`detached: workflow ${handle.workflowId} goes on without this command`);
    process.exit(0);
  };
  process.once("SIGINT", detach);
  try {
    let unreachableSince = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 1_000));
      const status = await handle.describe().then((d) => d.status.name, (err: Error) => {
        if (!unreachableSince) say(`control plane unreachable (${err.message.split("\n")[0]}); the work goes on in its worker, following again when it is back`);
        unreachableSince ||= Date.now();
        if (Date.now() - unreachableSince > FOLLOW_UNREACHABLE_MS) throw new Error(`the control plane has been unreachable for ${FOLLOW_UNREACHABLE_MS / 60_000} min: workflow ${handle.workflowId} is not lost (its history is on the server); run the command again to follow it`);
        return undefined;
      });
      if (!status) continue;
      if (unreachableSince) say("control plane reachable again");
      unreachableSince = 0;
      if (status !== "RUNNING") break;
      if (opts.progress) {
        const p = await handle.query<P>("progress").catch(() => undefined);
        if (p !== undefined) opts.progress(p);
      }
    }
    return await handle.result().catch((err: unknown) => {
      if (!(err instanceof WorkflowFailedError)) throw err;
      throw new Error(`${opts.what} failed on the control plane (workflow ${handle.workflowId}): ${innermostCause(err.cause)?.message ?? err.message}`);
    }) as R;
  } finally {
    process.removeListener("SIGINT", detach);
  }
}
