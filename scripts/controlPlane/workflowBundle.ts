import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../infra/config/stackFile";

/**
 * The workflows as one prebuilt bundle (webpack, by the SDK's bundler), built once per source and SDK version and
 * cached under `.bloom/temporal/` — a worker's start is then a file read, not a bundling of a few seconds. The
 * workflows import nothing but the SDK and types, so these two files are the whole source.
 */
const SOURCES = ["infra/controlPlane/workflows.ts", "infra/controlPlane/contract.ts"];
const CACHE_DIR = path.join(REPO_ROOT, ".bloom", "temporal");

export async function workflowBundle(log: (line: string) => void = () => undefined): Promise<{ codePath: string }> {
  const sdk = (JSON.parse(readFileSync(path.join(REPO_ROOT, "node_modules/@temporalio/workflow/package.json"), "utf8")) as { version: string }).version;
  const hash = createHash("sha256").update(sdk);
  for (const file of SOURCES) hash.update(file).update(readFileSync(path.join(REPO_ROOT, file)));
  const codePath = path.join(CACHE_DIR, `workflows-${hash.digest("hex").slice(0, 16)}.js`);
  if (existsSync(codePath)) return { codePath };
  const started = Date.now();
  const { bundleWorkflowCode } = await import("@temporalio/worker");
  const { sdkLogger } = await import("./worker");
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(REPO_ROOT, SOURCES[0]!), logger: sdkLogger(log) });
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(`${codePath}.tmp`, code);
  renameSync(`${codePath}.tmp`, codePath); // whole or absent: a killed build leaves no half bundle
  log(`bundled the control plane's workflows in ${((Date.now() - started) / 1000).toFixed(1)} s (${path.relative(REPO_ROOT, codePath)})`);
  return { codePath };
}
