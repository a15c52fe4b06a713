import { LocalWorkspace, PulumiCommand, type ConfigMap, type LocalWorkspaceOptions, type Stack } from "@pulumi/pulumi/automation";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import path from "node:path";
import { isSecretConfigKey, readStackConfig, REPO_ROOT, stackFilePath } from "../../infra/config/stackFile";
import { runPlatformStack } from "../../stacks/platform/run";
import { requireEngine } from "./engineLocation";

/**
 * Opens a platform stack through the Automation API with an inline program (the runbook and `npm run local`; the
 * plain CLI is `bin/pulumi`). Each stack gets its own work dir and PULUMI_HOME, so stacks can run concurrently; all
 * stacks under one root share one file-backend state folder, which for the default root is the one `bin/pulumi`
 * uses (.bloom/state): both paths see the same stacks. The stack's committed `encryptionsalt` is carried into the
 * work dir's stack file, so both derive the same secrets key.
 */
export interface LocalStackOptions {
  /** Stack name; also names the folders under `root`. */
  stackName: string;
  /** `bloom:*` config as Pulumi hands it to the program (objects as JSON text). Defaults to the stack's file. */
  config?: Record<string, string>;
  /** Where work dir, PULUMI_HOME and state live. Default: `.bloom/stacks` in the repo (gitignored). */
  root?: string;
  /** Secrets passphrase for the file backend; the local stack's is not a secret worth guarding. */
  passphrase?: string;
}

export const DEFAULT_STACKS_ROOT = path.join(REPO_ROOT, ".bloom", "stacks");
/** The checkout's file backend: `bin/pulumi` and the Automation API both use it. */
export const DEFAULT_STATE_DIR = path.join(REPO_ROOT, ".bloom", "state");

export async function openPlatformStack(opts: LocalStackOptions): Promise<Stack> {
  const stack = await openLocalStack({ ...opts, projectName: "bloom-platform", program: async () => runPlatformStack() });
  await applyConfig(stack, opts.config ?? readStackConfig(opts.stackName));
  return stack;
}

/** A stack of any of the repo's projects (platform, tenant) in the shared state, with the policy pack on every run. */
export async function openLocalStack(opts: Omit<LocalStackOptions, "config"> & { projectName: string; program: () => Promise<unknown> }): Promise<Stack> {
  const salt = committedSalt(opts.stackName);
  const settings = await workspaceSettings(opts.stackName, opts.projectName, opts.root, opts.passphrase);
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: opts.stackName, projectName: opts.projectName, program: opts.program as () => Promise<Record<string, unknown>> },
    { ...settings, stackSettings: salt ? { [opts.stackName]: { encryptionSalt: salt } } : undefined },
  );
  return withPolicyPack(stack);
}

/** The stacks of one project in the shared state (e.g. every tenant stack), without creating any. */
export async function listLocalStacks(projectName: string, root?: string): Promise<string[]> {
  const ws = await LocalWorkspace.create(await workspaceSettings(`${projectName}-list`, projectName, root));
  return (await ws.listStacks()).map((s) => s.name);
}

/**
 * Each stack gets its own work dir and PULUMI_HOME under `<root>/<dirName>` (so stacks can run concurrently); all
 * share one file-backend state folder (or PULUMI_BACKEND_URL).
 */
async function workspaceSettings(dirName: string, projectName: string, rootDir?: string, passphrase?: string): Promise<LocalWorkspaceOptions> {
  const engine = requireEngine();
  const root = path.join(rootDir ?? DEFAULT_STACKS_ROOT, dirName);
  // The work dir sits inside the repo so the dynamic-provider plugin resolves @pulumi/pulumi from node_modules.
  const workDir = path.join(root, "work");
  const pulumiHome = path.join(root, "home");
  const stateDir = rootDir ? path.join(rootDir, "state") : DEFAULT_STATE_DIR;
  for (const dir of [workDir, pulumiHome, stateDir]) mkdirSync(dir, { recursive: true });
  if (!workDir.startsWith(REPO_ROOT)) throw new Error(`stack folder ${root} must be inside the repository (${REPO_ROOT}) so node can resolve @pulumi/pulumi`);
  const backendUrl = process.env.PULUMI_BACKEND_URL ?? `file://${stateDir}`;
  return {
    workDir,
    pulumiHome,
    pulumiCommand: await PulumiCommand.get({ root: path.dirname(engine.binDir), skipVersionCheck: false }),
    secretsProvider: "passphrase",
    // PULUMI_BACKEND_URL (e.g. Pulumi Cloud or s3://) for shared stacks; a private file backend otherwise.
    projectSettings: { name: projectName, runtime: "nodejs", backend: { url: backendUrl } },
    envVars: {
      PULUMI_CONFIG_PASSPHRASE: stackPassphrase(backendUrl, stateDir, passphrase),
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
      // bin/ holds the policy-pack launcher (pulumi-analyzer-policy-nodejs-policy).
      PATH: [path.join(REPO_ROOT, "bin"), engine.binDir, process.env.PATH ?? ""].join(path.delimiter),
    },
  };
}

/** The platform's policy pack, which every engine run of the runbook passes as `--policy-pack` does on the CLI. */
export const POLICY_PACK_DIR = path.join(REPO_ROOT, "policies");

/** The stack with the policy pack added to every up and preview (a caller's own policyPacks come on top). */
function withPolicyPack(stack: Stack): Stack {
  const up = stack.up.bind(stack);
  const preview = stack.preview.bind(stack);
  stack.up = (o = {}) => up({ ...o, policyPacks: [POLICY_PACK_DIR, ...(o.policyPacks ?? [])] });
  stack.preview = (o = {}) => preview({ ...o, policyPacks: [POLICY_PACK_DIR, ...(o.policyPacks ?? [])] });
  return stack;
}

/**
 * The fixed fallback passphrase guards nothing, so it is used only for this checkout's private file backend (where
 * the state sits next to the code anyway); any other backend needs PULUMI_CONFIG_PASSPHRASE.
 */
export function stackPassphrase(backendUrl: string, stateDir: string, given?: string): string {
  const passphrase = given ?? process.env.PULUMI_CONFIG_PASSPHRASE;
  if (passphrase !== undefined) return passphrase;
  if (backendUrl === `file://${stateDir}`) return "bloom-local-stack";
  throw new Error(`PULUMI_BACKEND_URL is ${backendUrl.replace(/\/\/[^@/]*@/, "//***@")}: set PULUMI_CONFIG_PASSPHRASE for its stacks' secrets (the built-in local passphrase is only for the checkout's own file backend)`);
}

/** The `encryptionsalt` committed in the repo's stack file, if any (the local stack has one). */
function committedSalt(stackName: string): string | undefined {
  const file = stackFilePath(stackName);
  if (!existsSync(file)) return undefined;
  return (parse(readFileSync(file, "utf8")) as { encryptionsalt?: string } | null)?.encryptionsalt;
}

/** Replaces the stack's bloom config with exactly these values (a removed key must not linger). */
export async function applyConfig(stack: Stack, values: Record<string, string>): Promise<void> {
  const current = await stack.getAllConfig();
  const stale = Object.keys(current).filter((k) => k.startsWith("bloom:") && !(k in values));
  if (stale.length) await stack.removeAllConfig(stale);
  const map: ConfigMap = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: v, secret: isSecretConfigKey(k) }]));
  await stack.setAllConfig(map);
}
