import { describe, expect, it } from "vitest";
import { dataPlaneProvider, databaseResourceProvider } from "./dataPlaneProvider";

/** diff decides replace vs update vs nothing; the engine's defaults would ignore code changes or wipe outputs. */
describe("data-plane dynamic provider diff", () => {
  const provider = databaseResourceProvider<{ backend: any; name: string; region?: string; expiresAt?: string; retention?: number }, { projectId: string }>({
    replaceOn: ["name", "region"],
    createOnly: ["expiresAt"],
    create: async () => ({ id: "x", outs: { projectId: "x" } }),
    delete: async () => undefined,
  });
  const backend = { kind: "local" };
  const olds = { backend, name: "a", region: "eu", expiresAt: "2026-12-01T00:00:00Z", retention: 1, projectId: "x" };

  it("reports no change when inputs are the same (outputs are not inputs)", async () => {
    expect(await provider.diff!("x", olds, { backend, name: "a", region: "eu", expiresAt: "2026-12-01T00:00:00Z", retention: 1 })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  it("replaces on identity inputs, and only names those", async () => {
    const d = await provider.diff!("x", olds, { backend, name: "b", region: "eu", retention: 2, expiresAt: "2026-12-01T00:00:00Z" });
    expect(d).toMatchObject({ changes: true, replaces: ["name"], deleteBeforeReplace: true });
  });

  it("updates in place for other inputs and ignores create-only ones", async () => {
    expect(await provider.diff!("x", olds, { backend, name: "a", region: "eu", retention: 7, expiresAt: "2030-01-01T00:00:00Z" })).toMatchObject({ changes: true, replaces: [] });
    expect(await provider.diff!("x", olds, { backend, name: "a", region: "eu", retention: 1, expiresAt: "2030-01-01T00:00:00Z" })).toMatchObject({ changes: false });
  });

  it("treats a dropped identity input as a replacement", async () => {
    expect(await provider.diff!("x", olds, { backend, name: "a", retention: 1, expiresAt: "2026-12-01T00:00:00Z" })).toMatchObject({ changes: true, replaces: ["region"] });
  });

  it("keeps outputs on an update without a spec update step", async () => {
    const res = await provider.update!("x", olds, { backend, name: "a", region: "eu", retention: 9 });
    expect(res.outs).toMatchObject({ projectId: "x", retention: 9 });
  });

  it("updates an object that drifted although its inputs did not change, and asks only then", async () => {
    const asked: string[] = [];
    const drifting = dataPlaneProvider<{ name: string }, object, null>({
      connect: () => null,
      replaceOn: ["name"],
      create: async () => ({ id: "x", outs: {} }),
      delete: async () => undefined,
      drifted: async (_dp, _c, id) => { asked.push(id); return id === "planted" ? "role settings changed" : undefined; },
    });
    expect(await drifting.diff!("planted", { name: "a" }, { name: "a" })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(await drifting.diff!("clean", { name: "a" }, { name: "a" })).toMatchObject({ changes: false });
    expect(await drifting.diff!("planted", { name: "a" }, { name: "b" })).toMatchObject({ changes: true, replaces: ["name"] });
    expect(asked).toEqual(["planted", "clean"]);
    const unreachable = dataPlaneProvider<{ name: string }, object, null>({
      connect: () => null, replaceOn: [], create: async () => ({ id: "x", outs: {} }), delete: async () => undefined,
      drifted: async () => { throw new Error('database "gone" does not exist'); },
    });
    expect(await unreachable.diff!("x", { name: "a" }, { name: "a" })).toMatchObject({ changes: false }); // no verdict, no failure
  });
});
