import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { REPO_ROOT } from "../infra/config/stackFile";
import startServices from "./globalSetup";

/**
 * `npm test`: the five suites in two lanes at once, one per core. Vitest runs every project that disables file
 * parallelism (integration, security, runtime: one file at a time, on shared services) after the parallel ones, in
 * one worker, so one core idled through most of the run. Here the mock-only lane (unit, contract) runs in its own
 * vitest with one worker beside the services lane, which keeps its files one at a time as before. The services
 * are started once, before either lane, so the two never race to start them. Each line is prefixed with its lane;
 * the last line is the sum of the lanes' `N passed, N failed, N skipped`. Arguments go to both lanes.
 */
const LANES = [
  { name: "mocks", projects: ["unit", "contract"] },
  { name: "services", projects: ["integration", "security", "runtime"] },
];
const SUMMARY = /^(\d+) passed, (\d+) failed, (\d+) skipped$/;

type LaneResult = { name: string; code: number; summary?: [number, number, number] };

function runLane(lane: (typeof LANES)[number], args: string[]): Promise<LaneResult> {
  const vitest = path.join(REPO_ROOT, "node_modules", "vitest", "vitest.mjs");
  const child = spawn(process.execPath, [vitest, "run", ...lane.projects.flatMap((p) => ["--project", p]), "--maxWorkers", "1", "--passWithNoTests", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: process.env,
  });
  let summary: LaneResult["summary"];
  const relay = (stream: NodeJS.ReadableStream, out: NodeJS.WritableStream) => {
    createInterface({ input: stream }).on("line", (line) => {
      const m = SUMMARY.exec(line.trim());
      if (m) summary = [Number(m[1]), Number(m[2]), Number(m[3])];
      out.write(`[${lane.name}] ${line}\n`);
    });
  };
  relay(child.stdout!, process.stdout);
  relay(child.stderr!, process.stderr);
  const stop = () => child.kill("SIGINT");
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => resolve({ name: lane.name, code: code ?? (signal ? 1 : 0), summary }));
  });
}

async function main() {
  await startServices();
  const results = await Promise.all(LANES.map((lane) => runLane(lane, process.argv.slice(2))));
  let [passed, failed, skipped] = [0, 0, 0];
  for (const r of results) {
    if (!r.summary) {
      console.log(`[${r.name}] ended (exit ${r.code}) without its summary line: counted as one failure`);
      failed++;
      continue;
    }
    passed += r.summary[0];
    failed += r.summary[1] + (r.code !== 0 && r.summary[1] === 0 ? 1 : 0); // a lane that failed without a failed test
    skipped += r.summary[2];
  }
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed === 0 && results.every((r) => r.code === 0) ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  console.log("\n0 passed, 1 failed, 0 skipped");
  process.exit(1);
});
