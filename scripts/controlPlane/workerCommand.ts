import { ensureTemporalDevServer } from "../../infra/controlPlane/temporalDevServer";
import type { ControlPlaneEndpoint } from "../../infra/controlPlane/endpoint";
import type { Say } from "../runbook/snapshotCommands";
import { runControlPlaneWorker } from "./worker";

/**
 * `bloom worker [--address host:port --namespace ns] [--max-activities 4] [--engine-runs 2]`: a control-plane worker until Ctrl-C
 * (or SIGTERM), which lets it finish the activities it holds. Without --address, this machine's dev server (started
 * if it is down).
 */
export async function workerCommand(opts: { address?: string; namespace?: string; maxActivities?: string; engineRuns?: string }, say: Say): Promise<void> {
  const max = opts.maxActivities === undefined ? undefined : Number(opts.maxActivities);
  if (max !== undefined && !(Number.isInteger(max) && max > 0)) throw new Error(`--max-activities "${opts.maxActivities}": give a whole number above 0 (activities at once on this worker)`);
  const engineRuns = opts.engineRuns === undefined ? undefined : Number(opts.engineRuns);
  if (engineRuns !== undefined && !(Number.isInteger(engineRuns) && engineRuns > 0)) throw new Error(`--engine-runs "${opts.engineRuns}": give a whole number above 0 (pulumi runs at once on this worker; each is a process with its own memory)`);
  if (opts.address !== undefined && !/^[\w.-]+:\d+$/.test(opts.address)) throw new Error(`--address "${opts.address}": give the Temporal frontend as host:port (e.g. 127.0.0.1:7233)`);
  const endpoint: ControlPlaneEndpoint = opts.address
    ? { address: opts.address, namespace: opts.namespace ?? "default", local: /^(127\.0\.0\.1|localhost):/.test(opts.address) }
    : { address: (await ensureTemporalDevServer({ log: say })).address, namespace: opts.namespace ?? "default", local: true };
  const stop = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => { say(`${signal}: finishing the activities in hand, then stopping`); stop.abort(); });
  // A worker outlives its server: if the server goes away long enough for the SDK to give up, it connects again.
  for (let attempt = 1; !stop.signal.aborted; attempt++) {
    try {
      await runControlPlaneWorker({ endpoint, maxConcurrentActivities: max, engineRuns, signal: stop.signal, log: say });
    } catch (err) {
      if (stop.signal.aborted) break;
      const waitS = Math.min(30, 2 * attempt);
      say(`worker lost the control plane at ${endpoint.address} (${(err as Error).message.split("\n")[0]}); connecting again in ${waitS} s`);
      await new Promise((r) => setTimeout(r, waitS * 1000));
    }
  }
}
