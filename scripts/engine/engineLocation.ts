import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../infra/config/stackFile";

/** Where the project keeps a CLI it built (gitignored), and what version the installed SDK needs. */
export const ENGINE_DIR = path.join(REPO_ROOT, ".pulumi-engine");
export const ENGINE_BIN = path.join(ENGINE_DIR, "bin");

export function sdkVersion(): string {
  return (require("@pulumi/pulumi/package.json") as { version: string }).version;
}

/** `3.248.0` >= `3.247.1`? Plain numeric compare of major.minor.patch (pre-releases are not used here). */
export function versionAtLeast(actual: string, wanted: string): boolean {
  const a = actual.replace(/^v/, "").split(/[.-]/).map(Number);
  const w = wanted.replace(/^v/, "").split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (w[i] ?? 0)) return (a[i] ?? 0) > (w[i] ?? 0);
  }
  return true;
}

export function cliVersion(binary: string): string | undefined {
  try {
    return execFileSync(binary, ["version"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } }).trim().replace(/^v/, "");
  } catch {
    return undefined;
  }
}

export interface Engine {
  /** Folder holding `pulumi` (and, for a built engine, the dynamic-provider plugin). */
  binDir: string;
  version: string;
  source: "path" | "built";
}

function onPath(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "pulumi");
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** A compatible CLI: the built one first (pinned to the SDK), else `pulumi` on PATH when it is new enough. */
export function findEngine(): Engine | undefined {
  const wanted = sdkVersion();
  const built = path.join(ENGINE_BIN, "pulumi");
  const builtVersion = existsSync(built) ? cliVersion(built) : undefined;
  if (builtVersion && versionAtLeast(builtVersion, wanted)) return { binDir: ENGINE_BIN, version: builtVersion, source: "built" };
  const system = onPath();
  const systemVersion = system ? cliVersion(system) : undefined;
  if (system && systemVersion && versionAtLeast(systemVersion, wanted)) return { binDir: path.dirname(system), version: systemVersion, source: "path" };
  return undefined;
}

export function requireEngine(): Engine {
  const engine = findEngine();
  if (!engine) throw new Error(`no Pulumi CLI >= ${sdkVersion()} found: run \`npm run setup:pulumi\` (builds it from the Go module proxy into .pulumi-engine/)`);
  return engine;
}
