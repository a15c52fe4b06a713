import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workflowBundle } from "../../scripts/controlPlane/workflowBundle";
import { ApplicationFailure } from "@temporalio/common";
import { CONTROL_PLANE_TASK_QUEUE, deployMigrationsWorkflowId, stackSyncWorkflowId, syncFleetWorkflowId, type ControlPlaneActivities, type StackSyncInput, type StackSyncItem, type TargetDeployInput } from "./contract";
import { builtTemporalCli, ensureTemporalDevServer, stopTemporalDevServer } from "./temporalDevServer";
import type { deployMigrations, syncFleet } from "./workflows";

/**
 * The fleet workflows' orchestration on the real dev server and the real workflow bundle, with activities that
 * stand in for the engine and the databases (the real ones run in durableMove.e2e.test.ts):
 *   - `syncFleet`: a child workflow per stack, named by the stack, `concurrency` at a time; a stack whose sync keeps
 *     failing is retried (3 attempts), then reported with its error while the others complete;
 *   - `deployMigrations`: a deploy per database, `concurrency` at a time; a failed migration is not retried and is
 *     reported with its snapshot; a transient failure is retried; the others complete.
 */
const mustRun = process.env.CI === "true";
const stateDir = mkdtempSync(path.join(tmpdir(), "bloom-sync-fleet-"));
const port = 18_800 + Math.floor(Math.random() * 300) * 3;

describe.skipIf(!builtTemporalCli() && !mustRun)("fleet workflows on the control plane", () => {
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

  it("deploys each database, two at a time: a failed migration is reported with its snapshot and not retried, a transient failure is retried, the others finish", async () => {
    const targets = ["pool", "tenant:a", "tenant:b", "tenant:c", "tenant:d"];
    let running = 0;
    let peak = 0;
    const attempts: Record<string, number> = {};
    const activities: Pick<ControlPlaneActivities, "planMigrations" | "deployMigrationsTo"> = {
      planMigrations: async () => ({ deployId: "predeploy-20261203-1000-abcdef12", targets }),
      async deployMigrationsTo({ target, deployId }: TargetDeployInput) {
        attempts[target] = (attempts[target] ?? 0) + 1;
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 300));
        running--;
        if (target === "tenant:c") throw ApplicationFailure.create({ message: "20261210000000_add_column: column \"x\" already exists", type: "MigrationHookError", nonRetryable: true, details: [{ snapshot: deployId }] });
        if (target === "tenant:d" && attempts[target] === 1) throw new Error("connection reset by peer");
        return { target, snapshot: deployId, applied: ["20261210000000_add_column"], warnings: [] };
      },
    };
    const connection = await NativeConnection.connect({ address });
    const worker = await Worker.create({ connection, taskQueue: CONTROL_PLANE_TASK_QUEUE, workflowBundle: await workflowBundle(), activities });
    const client = new Client({ connection: await Connection.connect({ address }) });
    try {
      const outcome = await worker.runUntil(client.workflow.execute<typeof deployMigrations>("deployMigrations", {
        taskQueue: CONTROL_PLANE_TASK_QUEUE, workflowId: deployMigrationsWorkflowId("local"), args: [{ stack: { stackName: "local", configFile: "Pulumi.local.yaml" }, concurrency: 2 }],
      }));
      expect(outcome.failed).toEqual([{ target: "tenant:c", error: "20261210000000_add_column: column \"x\" already exists", snapshot: "predeploy-20261203-1000-abcdef12" }]);
      expect(outcome.deployed.map((d) => d.target).sort()).toEqual(["pool", "tenant:a", "tenant:b", "tenant:d"]);
      expect(peak).toBe(2);
      expect(attempts).toEqual({ pool: 1, "tenant:a": 1, "tenant:b": 1, "tenant:c": 1, "tenant:d": 2 });
      console.log(`deployMigrations: ${targets.length} databases, concurrency 2 (peak ${peak}); attempts ${JSON.stringify(attempts)}; failed ${JSON.stringify(outcome.failed)}`);
    } finally {
      await client.connection.close();
      await connection.close();
    }
  }, 120_000);
});
