import path from "node:path";
import { Worker } from "node:worker_threads";
import type { ObservabilitySpec, SynthesizedTemplate } from "./cdkTemplates";

/**
 * CDK synthesis on a worker thread: it is CPU work (several seconds for a large fleet, most of it CDK warming up),
 * while the rest of the program mostly waits on the engine. Started early, it runs on the other core while the
 * program registers its resources; the stacks take their templates as outputs.
 */
export function synthesizeInWorker(spec: ObservabilitySpec): Promise<SynthesizedTemplate[]> {
  const source = `
    const { parentPort, workerData } = require("node:worker_threads");
    require(${JSON.stringify(require.resolve("tsx/cjs/api"))}).register();
    const { synthesizeObservability } = require(${JSON.stringify(path.join(__dirname, "cdkTemplates.ts"))});
    try { parentPort.postMessage({ templates: synthesizeObservability(workerData) }); }
    catch (err) { parentPort.postMessage({ error: err && err.message ? err.message : String(err) }); }
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: spec });
    worker.once("message", (m: { templates?: SynthesizedTemplate[]; error?: string }) => {
      void worker.terminate();
      if (m.error) reject(new Error(`observability templates: ${m.error}`));
      else resolve(m.templates!);
    });
    worker.once("error", reject);
  });
}
