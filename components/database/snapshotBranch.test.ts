import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { promiseOf, runUnderMocks } from "../../test/pulumiMocks";
import { SnapshotBranch } from "./snapshotBranch";

const backend = { kind: "neon" as const, apiKey: "k" };

describe("SnapshotBranch component (mocks)", () => {
  it("registers one branch of the project, parented, with a secret backend input", async () => {
    const { registered, outputs, failure } = await runUnderMocks("staging", () =>
      new SnapshotBranch("pre-rls", { backend, projectId: "bloom-staging-id", branchName: "snap-20261127-pre-rls", expiresAt: "2026-12-04T00:00:00Z" }),
    );
    expect(failure).toBeUndefined();
    const branch = registered.find((r) => r.type === "pulumi-nodejs:dynamic/bloom:DatabaseBranch")!;
    expect(registered.map((r) => r.type)).toEqual(["bloom:database:SnapshotBranch", "pulumi-nodejs:dynamic/bloom:DatabaseBranch"]);
    expect(branch.opts.parent).toBe(outputs);
    expect(await promiseOf(branch.inputs.name)).toBe("snap-20261127-pre-rls");
    expect(await promiseOf(branch.inputs.expiresAt)).toBe("2026-12-04T00:00:00Z");
    expect(await pulumi.isSecret(branch.inputs.backend)).toBe(true);
    expect(await promiseOf(outputs.branchId)).toBe("br-snap-20261127-pre-rls");
  });

  it("protects and retains the branch when asked (prod snapshots)", async () => {
    const { registered } = await runUnderMocks("prod", () => new SnapshotBranch("s", { backend, projectId: "p", branchName: "snap-1", protectData: true }));
    const branch = registered.find((r) => r.type === "pulumi-nodejs:dynamic/bloom:DatabaseBranch")!;
    expect([branch.opts.protect, branch.opts.retainOnDelete]).toEqual([true, true]);
  });

  it.each([
    [{ branchName: "Snap 1" }, "branchName"],
    [{ branchName: "snap-1", at: "yesterday" }, "at"],
    [{ branchName: "snap-1", expiresAt: "next week" }, "expiresAt"],
    // Date.parse accepts these; Neon answers 422: a date alone, or a time without a zone.
    [{ branchName: "snap-1", at: "2026-11-27" }, "at"],
    [{ branchName: "snap-1", at: "2026-11-27T09:00:00" }, "at"],
    [{ branchName: "snap-1", expiresAt: "2026-11-27 09:00:00Z" }, "expiresAt"],
  ])("rejects bad input %j naming %s before registering a branch", async (args, field) => {
    const { registered, failure } = await runUnderMocks("staging", () => new SnapshotBranch("bad", { backend, projectId: "p", ...args }));
    expect(String(failure)).toContain(field);
    expect(String(failure)).toMatch(/RFC 3339|lowercase/);
    expect(registered.filter((r) => r.type.includes("DatabaseBranch"))).toEqual([]);
  });
});
