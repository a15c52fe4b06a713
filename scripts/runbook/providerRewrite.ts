import * as pulumi from "@pulumi/pulumi";
import type { Stack } from "@pulumi/pulumi/automation";
import { PROVIDER_OF_KIND, providerOfKind, type DynamicKind } from "../../components/database/providerKinds";
import type { Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";
import { tenantHandle } from "./tenantStackAccess";

/**
 * `bloom state rewrite-providers`: state written before dynamic resources kept a reference to their provider
 * (providerReference) holds, in each resource's outputs, the provider serialized with its closure — ~90 KB each, and
 * with it the stack's whole config, its API keys in plain text. `diff` ignores `__provider`, so `up` never rewrites
 * it. This puts each resource's reference in its place (inputs and outputs) through a stack export and import: no
 * resource is created, updated or replaced, and a preview after it must show no change. The backend's history and
 * backups keep what was there: rotate the keys that were in it.
 */

const DYNAMIC_PREFIX = "pulumi-nodejs:dynamic/bloom:";

/** The `__provider` text the program writes for a kind: the reference, serialized as the SDK serializes it. */
export async function referenceText(kind: string): Promise<string> {
  if (!(kind in PROVIDER_OF_KIND)) throw new Error(`no provider is known for dynamic resource kind ${kind}: add it to PROVIDER_OF_KIND (components/database/providerKinds.ts)`);
  const reference = providerOfKind(kind as DynamicKind);
  return (await pulumi.runtime.serializeFunction(() => reference, { allowSecrets: true })).text;
}

interface DeploymentResource { urn: string; type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }
export interface ProviderRewrite {
  /** Resources whose inputs or outputs held something other than their reference. */
  rewritten: number;
  /** Bytes of `__provider` text before and after, over the whole state. */
  bytesBefore: number;
  bytesAfter: number;
  /** Resources whose old `__provider` held one of `secrets` in plain text. */
  heldSecrets: number;
}

/** Puts each dynamic resource's reference in place of whatever `__provider` it holds (in place, on `deployment`). */
export function rewriteProviders(deployment: { resources?: DeploymentResource[] }, texts: Record<string, string>, secrets: string[] = []): ProviderRewrite {
  const result: ProviderRewrite = { rewritten: 0, bytesBefore: 0, bytesAfter: 0, heldSecrets: 0 };
  for (const res of deployment.resources ?? []) {
    if (!res.type.startsWith(DYNAMIC_PREFIX)) continue;
    const text = texts[res.type.slice(DYNAMIC_PREFIX.length)];
    if (text === undefined) throw new Error(`${res.urn}: no reference for kind ${res.type}: nothing was imported`);
    let changed = false;
    let held = false;
    for (const props of [res.inputs, res.outputs]) {
      if (!props || !("__provider" in props)) continue;
      const old = JSON.stringify(props.__provider);
      held ||= secrets.some((s) => old.includes(s));
      result.bytesBefore += old.length;
      result.bytesAfter += JSON.stringify(text).length;
      if (props.__provider !== text) {
        props.__provider = text; // a secret-wrapped closure becomes the plain reference: it holds no secret
        changed = true;
      }
    }
    if (changed) result.rewritten++;
    if (held) result.heldSecrets++;
  }
  return result;
}

/** One stack: export, rewrite, import (unless a dry run), then a preview that must propose nothing. */
async function rewriteStack(stack: Stack, label: string, opts: { dryRun: boolean; say: Say }): Promise<ProviderRewrite> {
  const deployment = await stack.exportStack();
  const kinds = [...new Set(((deployment.deployment?.resources ?? []) as DeploymentResource[]).map((r) => r.type).filter((t) => t.startsWith(DYNAMIC_PREFIX)))];
  const texts = Object.fromEntries(await Promise.all(kinds.map(async (t) => [t.slice(DYNAMIC_PREFIX.length), await referenceText(t.slice(DYNAMIC_PREFIX.length))] as const)));
  // The stack's secret config values (8 characters or more: a shorter one would match by chance).
  const secrets = Object.values(await stack.getAllConfig()).filter((v) => v.secret && v.value.length >= 8).map((v) => v.value);
  const result = rewriteProviders(deployment.deployment ?? {}, texts, secrets);
  const sizes = `__provider ${(result.bytesBefore / 1024).toFixed(0)} KB → ${(result.bytesAfter / 1024).toFixed(0)} KB${result.heldSecrets ? `; ${result.heldSecrets} of them held a secret config value in plain text` : ""}`;
  if (opts.dryRun || result.rewritten === 0) {
    opts.say(`${label}: ${result.rewritten} resource(s) to rewrite (${sizes})${opts.dryRun ? "; dry run: nothing imported" : ""}`);
    return result;
  }
  await stack.importStack(deployment);
  const preview = await stack.preview();
  const changes = Object.entries(preview.changeSummary).filter(([op, n]) => op !== "same" && (n ?? 0) > 0);
  opts.say(`${label}: ${result.rewritten} resource(s) rewritten (${sizes}); preview: ${changes.length ? changes.map(([op, n]) => `${n} ${op}`).join(", ") : "no changes"}`);
  if (changes.length) throw new Error(`${label}: after the rewrite a preview proposes ${changes.map(([op, n]) => `${n} ${op}`).join(", ")}; run \`pulumi preview --diff -s ${label}\` and compare with the state before (pulumi stack history)`);
  return result;
}

/** The platform stack and every declared dedicated tenant's stack. */
export async function rewriteProviderState(ctx: StackContext, opts: { dryRun: boolean; say: Say }): Promise<ProviderRewrite[]> {
  const results = [await rewriteStack(ctx.stack, ctx.stackName, opts)];
  for (const t of ctx.config.tenants.filter((x) => x.isolation === "dedicated")) {
    const handle = tenantHandle(ctx, t.id);
    results.push(await rewriteStack(await handle.openStack(), handle.dedicated.stack, opts));
  }
  if (results.some((r) => r.heldSecrets > 0)) {
    opts.say(`the state ${opts.dryRun ? "holds" : "held"} secret config values in plain text, and the backend's history and backups keep them: rotate those keys and tokens`);
  }
  return results;
}
