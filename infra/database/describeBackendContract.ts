import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hoursFromNow } from "../time";
import type { DatabaseBackend, ProjectRef } from "./backend";

/**
 * The behaviour every implementation of the branching seam must show. Run for real against local Postgres and
 * against the Neon fake (and live Neon when credentials are set).
 */
/** The clock the backend's branch expiry runs on, where a test can move it (the fake, the local backend). */
export interface ExpiryClock {
  advance(ms: number): void;
  reset(): void;
}

export function describeBackendContract(label: string, setup: () => Promise<{ backend: DatabaseBackend; projectName: string; teardown?: () => Promise<void>; clock?: ExpiryClock }>) {
  describe(`database backend contract — ${label}`, () => {
    let backend: DatabaseBackend;
    let project: ProjectRef;
    let teardown: (() => Promise<void>) | undefined;
    let projectName: string;
    let clock: ExpiryClock | undefined;

    beforeAll(async () => {
      ({ backend, projectName, teardown, clock } = await setup());
      project = await backend.ensureProject({ name: projectName, regionId: "aws-eu-central-1", pgVersion: 17, historyRetentionSeconds: 3600 });
    });
    afterAll(async () => {
      await backend?.deleteProject(project.projectId).catch(() => undefined);
      await backend?.close();
      await teardown?.();
    });

    it("ensureProject is idempotent by name and has a default branch", async () => {
      const again = await backend.ensureProject({ name: projectName, regionId: "aws-eu-central-1", pgVersion: 17, historyRetentionSeconds: 3600 });
      expect(again).toEqual(project);
      const branches = await backend.listBranches(project.projectId);
      expect(branches.map((b) => b.branchId)).toContain(project.defaultBranchId);
    });

    it("ensureBranch creates once, from the default branch, and a rerun returns the same branch", async () => {
      const first = await backend.ensureBranch({ projectId: project.projectId, name: "snap-contract-1", expiresAt: hoursFromNow(24) });
      const second = await backend.ensureBranch({ projectId: project.projectId, name: "snap-contract-1" });
      expect(second.branchId).toBe(first.branchId);
      expect(first.parentBranchId).toBe(project.defaultBranchId);
      const named = (await backend.listBranches(project.projectId)).filter((b) => b.name === "snap-contract-1");
      expect(named).toHaveLength(1);
    });

    it("refuses an expiry Neon refuses: past, more than 30 days ahead, not RFC 3339 (infra/vendorRules/neon.ts)", async () => {
      for (const expiresAt of [new Date(Date.now() - 60_000).toISOString(), hoursFromNow(24 * 30 + 2), "next week"]) {
        await expect(backend.ensureBranch({ projectId: project.projectId, name: "snap-bad-expiry", expiresAt }), expiresAt).rejects.toThrow(/expires_at .*(not in the future|more than 30 days|not RFC 3339)/);
      }
      expect((await backend.listBranches(project.projectId)).map((b) => b.name)).not.toContain("snap-bad-expiry");
    });

    it("a branch is deleted at its expiry; one whose expiry was cleared survives it; an expiring branch gets no child", async () => {
      if (!clock) return; // live Neon: its clock cannot be moved (the fake and the local backend follow its documented rules)
      try {
        const doomed = await backend.ensureBranch({ projectId: project.projectId, name: "snap-expiring", expiresAt: hoursFromNow(1) });
        const kept = await backend.ensureBranch({ projectId: project.projectId, name: "snap-kept", expiresAt: hoursFromNow(1) });
        await expect(backend.ensureBranch({ projectId: project.projectId, name: "child-of-expiring", parentBranchId: kept.branchId })).rejects.toThrow(/no child of a branch that has an expiry/);
        expect((await backend.setBranchExpiry(project.projectId, kept.branchId, null)).expiresAt).toBeUndefined();
        await expect(backend.setBranchExpiry(project.projectId, project.defaultBranchId, hoursFromNow(1))).rejects.toThrow(/default branch/);
        clock.advance(2 * 3_600_000);
        const names = (await backend.listBranches(project.projectId)).map((b) => b.name);
        expect(names).toContain("snap-kept");
        expect(names).not.toContain("snap-expiring");
        expect(await backend.getBranch(project.projectId, doomed.branchId)).toBeUndefined();
        const child = await backend.ensureBranch({ projectId: project.projectId, name: "child-of-kept", parentBranchId: kept.branchId });
        expect(child.parentBranchId).toBe(kept.branchId);
        await expect(backend.setBranchExpiry(project.projectId, kept.branchId, new Date(Date.now() + 2 * 3_600_000 + 3_600_000).toISOString())).rejects.toThrow(/has children/);
      } finally {
        clock.reset();
      }
    });

    it("branches from a given parent", async () => {
      const parent = await backend.ensureBranch({ projectId: project.projectId, name: "parent-contract" });
      const child = await backend.ensureBranch({ projectId: project.projectId, name: "child-contract", parentBranchId: parent.branchId });
      expect(child.parentBranchId).toBe(parent.branchId);
    });

    it("ensures a role (with a password) and a database it owns, and gives a connection URI for them", async () => {
      const role = await backend.ensureRole(project.projectId, project.defaultBranchId, "bloom_migrator");
      expect(role.password.length).toBeGreaterThanOrEqual(8);
      expect(role.name).toBe(backend.physicalRoleName(project.projectId, "bloom_migrator"));
      const again = await backend.ensureRole(project.projectId, project.defaultBranchId, "bloom_migrator");
      expect(again.name).toBe(role.name);
      await backend.ensureDatabase(project.projectId, project.defaultBranchId, "bloom", again.name);
      await backend.ensureDatabase(project.projectId, project.defaultBranchId, "bloom", again.name);
      const uri = new URL(await backend.connectionUri({ projectId: project.projectId, branchId: project.defaultBranchId, database: "bloom", role: again.name, password: again.password }));
      expect(uri.protocol).toMatch(/^postgres(ql)?:$/);
      expect(decodeURIComponent(uri.username)).toBe(again.name);
      expect(decodeURIComponent(uri.password)).toBe(again.password);
    });

    it("restores a branch from another and keeps the old state under the preserve name", async () => {
      const target = await backend.ensureBranch({ projectId: project.projectId, name: "restore-target" });
      const source = await backend.ensureBranch({ projectId: project.projectId, name: "restore-source" });
      const { branch, preserved } = await backend.restoreBranch({ projectId: project.projectId, branchId: target.branchId, sourceBranchId: source.branchId, preserveUnderName: "restore-target-old" });
      expect(branch.branchId).toBe(target.branchId);
      expect(preserved.name).toBe("restore-target-old");
      const names = (await backend.listBranches(project.projectId)).map((b) => b.name);
      expect(names).toEqual(expect.arrayContaining(["restore-target", "restore-source", "restore-target-old"]));
    });

    it("deletes a branch, and deleting it again is a no-op", async () => {
      const b = await backend.ensureBranch({ projectId: project.projectId, name: "to-delete" });
      expect((await backend.getBranch(project.projectId, b.branchId))?.name).toBe("to-delete");
      await backend.deleteBranch(project.projectId, b.branchId);
      await backend.deleteBranch(project.projectId, b.branchId);
      expect(await backend.getBranch(project.projectId, b.branchId)).toBeUndefined();
      expect((await backend.listBranches(project.projectId)).map((x) => x.name)).not.toContain("to-delete");
    });
  });
}
