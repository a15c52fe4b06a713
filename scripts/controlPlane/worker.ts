import { DefaultLogger, NativeConnection, Runtime, Worker } from "@temporalio/worker";
import { CONTROL_PLANE_TASK_QUEUE } from "../../infra/controlPlane/contract";
import type { ControlPlaneEndpoint } from "../../infra/controlPlane/endpoint";
import { controlPlaneActivities } from "./activities";
import { workflowBundle } from "./workflowBundle";

/**
 * A control-plane worker (`bloom worker`): polls the task queue, runs the workflows from the prebuilt bundle and the
 * runbook's operations as activities. Any number may run, on any machines that reach the endpoint and the stacks;
 * a workflow's next task goes to whichever polls first. Runs until `signal` aborts (Ctrl-C), then finishes what it
 * holds within the grace time.
 */
export interface WorkerOptions {
  endpoint: ControlPlaneEndpoint;
  /** Activities at once on this worker (each may run an engine or a long copy). */
  maxConcurrentActivities?: number;
  /** Engine runs (`pulumi up`, destroy) at once on this worker (default 2). */
  engineRuns?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

let runtimeInstalled = false;

/** The SDK's WARN and ERROR lines, through `log`. */
export const sdkLogger = (log: (line: string) => void) => new DefaultLogger("WARN", (entry) => log(`temporal ${entry.level}: ${entry.message}`));

export async function runControlPlaneWorker(opts: WorkerOptions): Promise<void> {
  const log = opts.log ?? (() => undefined);
  if (!runtimeInstalled) {
    // The SDK's own lines at WARN and above, through our log (its default is everything to stderr).
    Runtime.install({ logger: sdkLogger(log) });
    runtimeInstalled = true;
  }
  const connection = await NativeConnection.connect({ address: opts.endpoint.address });
  try {
    const worker = await Worker.create({
      connection,
      namespace: opts.endpoint.namespace,
      taskQueue: CONTROL_PLANE_TASK_QUEUE,
      workflowBundle: await workflowBundle(log),
      activities: controlPlaneActivities(log, { engineRuns: opts.engineRuns }),
      maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 4,
      shutdownGraceTime: "10 seconds",
    });
    log(`worker polling ${CONTROL_PLANE_TASK_QUEUE} on ${opts.endpoint.address} (namespace ${opts.endpoint.namespace})`);
    if (opts.signal) {
      if (opts.signal.aborted) worker.shutdown();
      else opts.signal.addEventListener("abort", () => worker.shutdown(), { once: true });
    }
    await worker.run();
    log("worker stopped");
  } finally {
    await connection.close();
  }
}
