import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { dataPlaneProvider, databaseResourceProvider, providerReference } from "./dataPlaneProvider";

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

  it("reports no change when only the provider's own text changed (its __provider)", async () => {
    expect(await provider.diff!("x", { ...olds, __provider: "old provider" }, { backend, name: "a", region: "eu", expiresAt: "2026-12-01T00:00:00Z", retention: 1, __provider: "new provider" }))
      .toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
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

/**
 * What each resource's `__provider` holds (issue 21): a reference to the provider's module, not the provider
 * serialized with everything it captures, and the engine's provider host (plain node, no tsx) can load it.
 */
describe("a dynamic resource's provider as the engine stores it", () => {
  const recordModule = path.join(REPO_ROOT, "components", "tenancy", "tenantRecord.ts");

  it("is under 3 KB, one object per kind, and holds no code of the provider and no path of this machine", async () => {
    const reference = providerReference(recordModule, "recordProvider");
    expect(providerReference(recordModule, "recordProvider")).toBe(reference);
    const { text } = await pulumi.runtime.serializeFunction(() => reference, { allowSecrets: true });
    expect(text.length).toBeLessThan(3_000);
    expect(text).not.toMatch(/upsertTenantRecord|removeTenantRecord|sameValue/);
    expect(text).not.toContain(REPO_ROOT); // no path of this machine in state: a moved checkout is no change
    expect(text).toContain(`"components/tenancy/tenantRecord.ts"`);
    // The closure-serialized provider it replaces, for the figure in the test's output.
    const { recordProvider } = await import("../tenancy/tenantRecord");
    const full = await pulumi.runtime.serializeFunction(() => recordProvider, { allowSecrets: true });
    console.log(`__provider: ${text.length} bytes as a reference, ${full.text.length} bytes serialized with its closure`);
    expect(full.text.length).toBeGreaterThan(text.length * 2);
  });

  it("loads in a plain node process, as the provider host loads it, and answers as the module's provider", async () => {
    const reference = providerReference(recordModule, "recordProvider");
    const { text } = await pulumi.runtime.serializeFunction(() => reference, { allowSecrets: true });
    // The provider host evaluates the text as a module (require-from-string) and calls handler(); no tsx is loaded.
    const host = `const Module = require("node:module"); const m = new Module("provider"); m.paths = Module._nodeModulePaths(process.cwd());
      m._compile(require("node:fs").readFileSync(0, "utf8"), "provider.js");
      m.exports.handler().diff("t", { scope: "catalog", tenant: { id: "t" } }, { scope: "dedicated", tenant: { id: "t" } })
        .then((d) => process.stdout.write(JSON.stringify(d)), (e) => { console.error(e); process.exit(1); });`;
    const runHost = (cwd: string, env: NodeJS.ProcessEnv = {}) => execFileSync(process.execPath, ["-e", host], { input: text, cwd, env: { ...process.env, BLOOM_PLATFORM_ROOT: "", ...env }, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    // From the checkout's projects (the repo root, the tenant project): the checkout is found from the working dir.
    for (const cwd of [REPO_ROOT, path.join(REPO_ROOT, "stacks", "tenant")]) {
      expect(JSON.parse(runHost(cwd)), cwd).toEqual({ changes: true, replaces: ["scope"], deleteBeforeReplace: true });
    }
    // Outside any checkout: a clear error, unless BLOOM_PLATFORM_ROOT names it.
    const outside = mkdtempSync(path.join(tmpdir(), "provider-host-"));
    try {
      expect(() => runHost(outside)).toThrow(/the bloom-platform checkout was not found above .*provider-host-.*set BLOOM_PLATFORM_ROOT/);
      expect(JSON.parse(runHost(outside, { BLOOM_PLATFORM_ROOT: REPO_ROOT }))).toEqual({ changes: true, replaces: ["scope"], deleteBeforeReplace: true });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("names the module and the export when the module no longer has the provider", async () => {
    await expect(providerReference(recordModule, "noSuchProvider").create({})).rejects.toThrow(/^components\/tenancy\/tenantRecord\.ts exports no provider named noSuchProvider$/);
  });
});
