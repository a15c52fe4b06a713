import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseBackend, ProjectRef } from "./backend";

/**
 * The behaviour every implementation of the branching seam must show. Run for real against local Postgres and
 * against the Neon fake (and live Neon when credentials are set).
 */
export function describeBackendContract(label: string, setup: () => Promise<{ backend: DatabaseBackend; projectName: string; teardown?: () => Promise<void> }>) {
  describe(`database backend contract — ${label}`, () => {
    let backend: DatabaseBackend;
    let project: ProjectRef;
    let teardown: (() => Promise<void>) | undefined;
    let projectName: string;

    beforeAll(async () => {
      ({ backend, projectName, teardown } = await setup());
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
      const first = await backend.ensureBranch({ projectId: project.projectId, name: "snap-contract-1", expiresAt: "2030-01-01T00:00:00Z" });
      const second = await backend.ensureBranch({ projectId: project.projectId, name: "snap-contract-1" });
      expect(second.branchId).toBe(first.branchId);
      expect(first.parentBranchId).toBe(project.defaultBranchId);
      const named = (await backend.listBranches(project.projectId)).filter((b) => b.name === "snap-contract-1");
      expect(named).toHaveLength(1);
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
