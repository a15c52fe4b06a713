import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROVIDER_OF_KIND } from "../../components/database/providerKinds";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { referenceText, rewriteProviders } from "./providerRewrite";

describe("state rewrite-providers", () => {
  // The resource classes take their provider from the same table (providerOfKind), so a kind they use is in it.
  it("knows the provider of every dynamic resource kind, and each module exports it", async () => {
    for (const { module, exportName } of Object.values(PROVIDER_OF_KIND)) {
      expect(typeof (await import(path.join(REPO_ROOT, module)))[exportName]?.create, `${module} ${exportName}`).toBe("function");
    }
  });

  it("puts the reference in place of an old provider in inputs and outputs, counts those that held a secret, and leaves references alone", async () => {
    const text = await referenceText("TenantRecord");
    const closure = "exports.handler = __f0; var __config = { 'bloom:neonApiKey': 'napi_leaked_key_1234' }; /* 90 KB of closure */";
    const deployment = {
      resources: [
        { urn: "urn:a", type: "pulumi-nodejs:dynamic/bloom:TenantRecord", inputs: { __provider: closure, scope: "catalog" }, outputs: { __provider: closure, scope: "catalog" } },
        { urn: "urn:b", type: "pulumi-nodejs:dynamic/bloom:TenantRecord", inputs: { __provider: text }, outputs: { __provider: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "v1:abc" } } },
        { urn: "urn:c", type: "pulumi-nodejs:dynamic/bloom:TenantRecord", inputs: { __provider: text }, outputs: { __provider: text } },
        { urn: "urn:d", type: "bloom:tenancy:Tenant", inputs: { id: "x" } },
      ],
    };
    const result = rewriteProviders(deployment, { TenantRecord: text }, ["napi_leaked_key_1234"]);
    expect(result).toMatchObject({ rewritten: 2, heldSecrets: 1 });
    for (const r of deployment.resources.slice(0, 3)) expect([r.inputs.__provider, r.outputs!.__provider]).toEqual([text, text]);
    expect(deployment.resources[0]!.inputs.scope).toBe("catalog");
    expect(deployment.resources[3]).toEqual({ urn: "urn:d", type: "bloom:tenancy:Tenant", inputs: { id: "x" } });
  });

  it("refuses a kind it has no provider for before anything is imported, naming where to add it", async () => {
    expect(() => rewriteProviders({ resources: [{ urn: "urn:x", type: "pulumi-nodejs:dynamic/bloom:Unknown", inputs: { __provider: "x" } }] }, {})).toThrow(/urn:x: no reference for kind .*Unknown: nothing was imported/);
    await expect(referenceText("Unknown")).rejects.toThrow(/add it to PROVIDER_OF_KIND \(components\/database\/providerKinds\.ts\)/);
  });
});
