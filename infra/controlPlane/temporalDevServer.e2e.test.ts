import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { processAlive } from "../processes";
import { ensureTemporalDevServer, stopTemporalDevServer, temporalCli, temporalDevServerRunning } from "./temporalDevServer";

/**
 * The local workflow engine as built by `npm run setup:temporal` (the real Temporal CLI v1.5.1 and its dev server):
 * on loopback, its history in a SQLite file that outlives the process. A workflow started before a kill -9 of the
 * server is still there, running, after a restart on the same file.
 */
const stateDir = mkdtempSync(path.join(tmpdir(), "bloom-temporal-"));
const port = 17_233 + Math.floor(Math.random() * 500) * 3;
let foreign: Server | undefined;
let serverPid = 0;

afterAll(async () => {
  stopTemporalDevServer({ port, stateDir, kill: true });
  foreign?.close();
  // A stopped server may still be writing its SQLite files as it exits (CI saw ENOTEMPTY here): the folder goes
  // once the process is gone, and its removal is retried.
  for (let i = 0; i < 40 && serverPid && processAlive(serverPid); i++) await new Promise((r) => setTimeout(r, 250));
  rmSync(stateDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
});

const cli = (args: string[]) => execFileSync(temporalCli(), [...args, "--address", `127.0.0.1:${port}`], { encoding: "utf8", timeout: 30_000 });

describe("the Temporal dev server of the local stack", () => {
  it("keeps a workflow across a kill -9 and a restart on the same file", async () => {
    const first = await ensureTemporalDevServer({ port, stateDir });
    expect(first).toMatchObject({ address: `127.0.0.1:${port}`, started: true });
    expect(await ensureTemporalDevServer({ port, stateDir })).toMatchObject({ pid: first.pid, started: false });
    // No worker polls this queue: the workflow stays running, waiting for its first task.
    cli(["workflow", "start", "--namespace", "default", "--task-queue", "bloom-durability-test", "--type", "purgeMovedCopy", "--workflow-id", "durable-1"]);
    expect(stopTemporalDevServer({ port, stateDir, kill: true })).toBe(true);
    for (let i = 0; i < 40 && temporalDevServerRunning({ port, stateDir }); i++) await new Promise((r) => setTimeout(r, 250));
    await new Promise((r) => setTimeout(r, 500));

    const again = await ensureTemporalDevServer({ port, stateDir });
    expect(again.started).toBe(true);
    expect(again.pid).not.toBe(first.pid);
    serverPid = again.pid;
    const described = JSON.parse(cli(["workflow", "describe", "--namespace", "default", "--workflow-id", "durable-1", "--output", "json"])) as { workflowExecutionInfo: { status: string; type: { name: string } } };
    expect(described.workflowExecutionInfo).toMatchObject({ status: "WORKFLOW_EXECUTION_STATUS_RUNNING", type: { name: "purgeMovedCopy" } });
  }, 180_000);

  it("refuses a port something else holds, naming the setting that moves it", async () => {
    foreign = createServer();
    const other = port + 2;
    await new Promise<void>((r) => foreign!.listen(other, "127.0.0.1", () => r()));
    await expect(ensureTemporalDevServer({ port: other, stateDir })).rejects.toThrow(/127\.0\.0\.1:\d+ is taken by something other than this checkout's Temporal dev server: .*BLOOM_TEMPORAL_PORT/);
  });

  it("stops, and then is not running", () => {
    expect(stopTemporalDevServer({ port, stateDir })).toBe(true);
    expect(temporalDevServerRunning({ port, stateDir })).toBe(false);
  });
});
