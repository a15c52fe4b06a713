import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { poissonLoad, type PoissonLoadOptions, type Run } from "./poissonLoad";

/**
 * The aggressor's flood on its own thread: its clients are other clinics' machines, so handling its thousands of
 * answers must not delay the victim's own client (whose lateness would count as the app's latency).
 */
export function poissonLoadOnThread(opts: PoissonLoadOptions): Promise<Run> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(`require("tsx/cjs"); require(${JSON.stringify(__filename)});`, { eval: true, workerData: opts });
    worker.once("message", (run: Run) => resolve(run)); // Maps cross postMessage as they are (structured clone)
    worker.once("error", reject);
    worker.once("exit", (code) => code !== 0 && reject(new Error(`the flood's thread exited with ${code}`)));
  });
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  void poissonLoad(workerData as PoissonLoadOptions).then((run) => port.postMessage(run));
}
