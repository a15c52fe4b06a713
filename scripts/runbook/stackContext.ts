import type { Stack } from "@pulumi/pulumi/automation";
import { createDatabaseBackend, type DatabaseBackend } from "../../infra";
import { loadStackConfigFile, stackFilePath } from "../../infra/config/stackFile";
import type { PlatformConfig } from "../../infra/config/schema";
import { openPlatformStack } from "../engine/localStack";

/**
 * What a runbook command works on: one stack, its config file (the source of truth, edited like
 * `pulumi config set` would), the engine's view of it, and the database backend behind it.
 */
export interface StackContext {
  stackName: string;
  /** Where work dirs and state live (tenant stacks open under the same root, so they share the backend). */
  root?: string;
  configFile: string;
  config: PlatformConfig;
  stack: Stack;
  /** Re-reads and re-validates the config file and hands it to the stack. */
  reload(): Promise<void>;
  backend(): Promise<DatabaseBackend>;
  output<T>(name: string): Promise<T>;
}

export interface StackContextOptions {
  stackName: string;
  /** Default: Pulumi.<stack>.yaml in the repository. */
  configFile?: string;
  /** Where work dirs and state live (see openPlatformStack). */
  root?: string;
}

export async function openStackContext(opts: StackContextOptions): Promise<StackContext> {
  const configFile = opts.configFile ?? stackFilePath(opts.stackName);
  const load = () => loadStackConfigFile(configFile, opts.stackName);
  let loaded = load();
  const stack = await openPlatformStack({ stackName: opts.stackName, config: loaded.values, root: opts.root });
  const ctx: StackContext = {
    stackName: opts.stackName,
    root: opts.root,
    configFile,
    get config() {
      return loaded.config;
    },
    stack,
    async reload() {
      loaded = load();
      const { applyConfig } = await import("../engine/localStack");
      await applyConfig(stack, loaded.values);
    },
    async backend() {
      const db = loaded.config.database;
      if (db.backend === "local") return createDatabaseBackend({ kind: "local", serverUrl: db.local?.serverUrl, poolerPort: db.local?.poolerPort });
      const apiKey = process.env.NEON_API_KEY ?? (await stack.getConfig("bloom:neonApiKey").catch(() => undefined))?.value;
      if (!apiKey) throw new Error(`stack ${opts.stackName} is on Neon: set NEON_API_KEY or \`pulumi config set --secret bloom:neonApiKey\``);
      return createDatabaseBackend({ kind: "neon", apiKey, apiBaseUrl: db.neon?.apiBaseUrl, orgId: db.neon?.orgId });
    },
    async output<T>(name: string) {
      const out = (await stack.outputs())[name];
      if (!out) throw new Error(`stack ${opts.stackName} has no output "${name}": run \`npm run local -- up --stack ${opts.stackName}\` first`);
      return out.value as T;
    },
  };
  return ctx;
}
