import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStackConfigFile, stackFilePath } from "../../infra/config/stackFile";
import { NeonBackend } from "../../infra/database/neon/neonBackend";
import { hoursFromNow } from "../../infra/time";
import { NeonFake } from "../../test/fakes/neon/neonFake";
import { rollbackTo, undoRollback } from "./rollbackCommands";
import type { StackContext } from "./stackContext";

/**
 * Rollback by repointing onto a pre-deploy snapshot, against the Neon fake, which deletes a branch at its expiry as
 * Neon does (issue 23, defect 6). The engine is stubbed here (preview and up succeed; the real engine's rollback is
 * stacks/platform/rollback.e2e.test.ts): what is under test is what the runbook asks of Neon.
 */
const fast = { retry: { baseDelayMs: 5, maxDelayMs: 50, maxTotalWaitMs: 10_000 }, pollIntervalMs: 10, operationTimeoutMs: 10_000 };
let fake: NeonFake;
let dir: string;

beforeAll(async () => {
  fake = new NeonFake();
  await fake.start();
  dir = mkdtempSync(path.join(os.tmpdir(), "bloom-rollback-expiry-"));
});
afterAll(async () => {
  fake.resetClock();
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
  expect(fake.problems).toEqual([]);
});

async function stagingContext(): Promise<{ ctx: StackContext; backend: NeonBackend; projectId: string; mainId: string }> {
  const configFile = path.join(dir, `Pulumi.staging-${Date.now()}.yaml`);
  copyFileSync(stackFilePath("staging"), configFile);
  const backend = () => new NeonBackend({ apiKey: fake.apiKey, apiBaseUrl: fake.url, ...fast });
  const project = await backend().ensureProject({ name: `bloom-staging-${Date.now()}`, regionId: "aws-eu-central-1", pgVersion: 17 });
  let loaded = loadStackConfigFile(configFile, "staging");
  const ups: string[] = [];
  const ctx = {
    stackName: "staging",
    configFile,
    get config() { return loaded.config; },
    stack: {
      preview: async () => ({ changeSummary: { update: 1 } }),
      up: async () => (ups.push(loaded.config.appBranch), { summary: { result: "succeeded" } }),
    },
    reload: async () => { loaded = loadStackConfigFile(configFile, "staging"); },
    backend: async () => backend(),
    output: async <T,>(name: string) => (name === "poolProjectId" ? project.projectId : undefined) as T,
  } as unknown as StackContext;
  return { ctx, backend: backend(), projectId: project.projectId, mainId: project.defaultBranchId };
}

describe("rollback by repointing onto an expiring snapshot (Neon fake)", () => {
  it("the snapshot the app uses outlives its original expiry; undo gives it an expiry no earlier than now + the TTL", async () => {
    const { ctx, backend, projectId, mainId } = await stagingContext();
    const snap = await backend.ensureBranch({ projectId, name: "predeploy-20261201-0900", parentBranchId: mainId, expiresAt: hoursFromNow(2) });
    const said: string[] = [];
    await rollbackTo(ctx, snap.name, { yes: true, say: (l) => said.push(l) });
    expect(ctx.config.appBranch).toBe(snap.name);
    expect(said.join("\n")).toMatch(/expiry is cleared before the app uses it/);

    fake.advanceTime(3 * 3_600_000); // past the snapshot's original expiry
    const during = await backend.getBranch(projectId, snap.branchId);
    expect(during, "the branch the app is pointed at was deleted by its expiry").toBeDefined();
    expect(during!.expiresAt).toBeUndefined();
    // While rolled back, a snapshot of the branch the app uses can be taken (Neon makes no child of an expiring branch).
    await backend.ensureBranch({ projectId, name: "snap-while-rolled-back", parentBranchId: snap.branchId, expiresAt: hoursFromNow(24) });
    await backend.deleteBranch(projectId, (await backend.listBranches(projectId)).find((b) => b.name === "snap-while-rolled-back")!.branchId);

    await undoRollback(ctx, { yes: true, say: (l) => said.push(l) });
    expect(ctx.config.appBranch).toBe("main");
    const after = await backend.getBranch(projectId, snap.branchId);
    const ttlMs = ctx.config.migrations.snapshotTtlHours * 3_600_000;
    expect(Date.parse(after!.expiresAt!)).toBeGreaterThanOrEqual(Date.now() + ttlMs - 5_000);
    expect((await backend.listBranches(projectId)).map((b) => b.branchId)).toContain(mainId);
  });

  it("--ttl-hours and bloom:migrations.snapshotTtlHours stop at Neon's 30 days", async () => {
    const { createSnapshot } = await import("./snapshotCommands");
    const { ctx } = await stagingContext();
    await expect(createSnapshot(ctx, { name: "snap-long", ttlHours: 24 * 30 + 1, say: () => undefined })).rejects.toThrow(/--ttl-hours 721: a whole number of hours from 1 to 720 .*30 days/);
    const { validatePlatformConfig } = await import("../../infra/config/validate");
    expect(() => validatePlatformConfig((k) => (k === "migrations" ? { snapshotTtlHours: 2160 } : k === "environment" ? "local" : undefined), "local"))
      .toThrow(/bloom:migrations\.snapshotTtlHours.*must be <= 720 \(30 days\): Neon refuses a branch expiry further ahead/);
  });
});
