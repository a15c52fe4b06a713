import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workflowBundle } from "../../scripts/controlPlane/workflowBundle";
import { CONTROL_PLANE_TASK_QUEUE, stackSyncWorkflowId, syncFleetWorkflowId, type ControlPlaneActivities, type StackSyncInput, type StackSyncItem } from "./contract";
import { builtTemporalCli, ensureTemporalDevServer, stopTemporalDevServer } from "./temporalDevServer";
import type { syncFleet } from "./workflows";

/**
 * The `syncFleet` workflow's orchestration on the real dev server and the real workflow bundle, with activities that
 * stand in for the engine (the real ones run in durableMove.e2e.test.ts): a child workflow per stack, named by the
 * stack, `concurrency` at a time; a stack whose sync keeps failing is retried (3 attempts), then reported with its
 * error while the others complete.
 */
const mustRun = process.env.CI === "true";
const stateDir = mkdtempSync(path.join(tmpdir(), "bloom-sync-fleet-"));
const port = 18_800 + Math.floor(Math.random() * 300) * 3;

describe.skipIf(!builtTemporalCli() && !mustRun)("syncFleet on the control plane", () => {
  let address = "";
  beforeAll(async () => {
    if (!builtTemporalCli()) throw new Error("CI=true and no Temporal CLI: `npm run setup:temporal` must run before the e2e suite");
    address = (await ensureTemporalDevServer({ port, stateDir })).address;
  }, 120_000);
  afterAll(() => {
    stopTemporalDevServer({ port, stateDir, kill: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("syncs each stack as its own child workflow, two at a time; a stack that keeps failing is retried, then reported, and the others finish", async () => {
    const work: StackSyncItem[] = ["a", "b", "c", "d", "e"].map((t) => ({ stack: `local-${t}`, tenantId: t, action: t === "e" ? "destroy" : "up" }));
    let running = 0;
    let peak = 0;
    const attempts: Record<string, number> = {};
    const activities: Pick<ControlPlaneActivities, "planFleetSync" | "syncStack"> = {
      planFleetSync: async () => work,
      async syncStack({ item }: StackSyncInput) {
        attempts[item.stack] = (attempts[item.stack] ?? 0) + 1;
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 300));
        running--;
        if (item.stack === "local-c") throw new Error("pulumi up: error: the stack's state is locked by another update");
        return item.action === "up" ? "upped" : "destroyed";
      },
    };
    const connection = await NativeConnection.connect({ address });
    const worker = await Worker.create({ connection, taskQueue: CONTROL_PLANE_TASK_QUEUE, workflowBundle: await workflowBundle(), activities });
    const client = new Client({ connection: await Connection.connect({ address }) });
    try {
      const stack = { stackName: "local", configFile: "Pulumi.local.yaml" };
      const outcome = await worker.runUntil(client.workflow.execute<typeof syncFleet>("syncFleet", {
        taskQueue: CONTROL_PLANE_TASK_QUEUE, workflowId: syncFleetWorkflowId("local"), args: [{ stack, concurrency: 2 }],
      }));
      expect(outcome).toEqual({
        upped: expect.arrayContaining(["local-a", "local-b", "local-d"]), destroyed: ["local-e"], refused: [],
        failed: [{ stack: "local-c", error: "pulumi up: error: the stack's state is locked by another update" }],
      });
      expect(outcome.upped).toHaveLength(3);
      expect(peak, "at most `concurrency` stacks at once").toBe(2);
      expect(attempts).toEqual({ "local-a": 1, "local-b": 1, "local-c": 3, "local-d": 1, "local-e": 1 });
      const children: string[] = [];
      for await (const w of client.workflow.list({ query: `WorkflowType = 'syncOneStack'` })) children.push(w.workflowId);
      expect(children.sort()).toEqual(work.map((w) => stackSyncWorkflowId("local", w.stack)).sort());
      console.log(`syncFleet: ${work.length} stacks, concurrency 2 (peak ${peak}); attempts ${JSON.stringify(attempts)}; outcome ${JSON.stringify(outcome)}`);
    } finally {
      await client.connection.close();
      await connection.close();
    }
  }, 120_000);
});
