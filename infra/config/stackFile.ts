import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse, parseDocument } from "yaml";
import { parseConfigValue, validatePlatformConfig } from "./validate";
import type { PlatformConfig } from "./schema";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export const stackFilePath = (stack: string, root = REPO_ROOT): string => path.join(root, `Pulumi.${stack}.yaml`);

/** The `bloom:*` values of a stack file, as Pulumi hands them to a program: objects as JSON text, scalars as text. */
export function readStackConfig(stack: string, root = REPO_ROOT): Record<string, string> {
  return readStackConfigFile(stackFilePath(stack, root));
}

/** Config keys that hold credentials: always handed to the engine as secrets. */
export const isSecretConfigKey = (key: string): boolean => /^bloom:[A-Za-z]*(ApiKey|ApiToken)$/.test(key);

/** Where the runbook path takes each credential from (never from plain text in a stack file). */
export const SECRET_CONFIG_ENV: Record<string, string> = { "bloom:neonApiKey": "NEON_API_KEY", "bloom:upstashApiKey": "UPSTASH_API_KEY", "bloom:cloudflareApiToken": "CLOUDFLARE_API_TOKEN" };

export function readStackConfigFile(file: string): Record<string, string> {
  const doc = parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (!key.startsWith("bloom:")) continue;
    if (value && typeof value === "object" && "secure" in value) {
      // Ciphertext only the engine holding the stack's secrets provider can read: passing it on as JSON text would
      // hand the program garbage where a key belongs.
      const env = SECRET_CONFIG_ENV[key];
      throw new Error(`${key} in ${path.basename(file)} is encrypted (secure:), which the runbook's engine runs cannot decrypt: ` +
        `${env ? `export ${env} instead (it reaches the engine as a secret) and ` : ""}remove the key from the file, or run the plain \`pulumi\` CLI for this stack`);
    }
    if (isSecretConfigKey(key)) {
      // A credential in a file the repository holds is a credential anyone with the repository holds.
      const env = SECRET_CONFIG_ENV[key];
      throw new Error(`${key} is in plain text in ${path.basename(file)}: remove it from the file and ${env ? `export ${env} (the runbook hands it to the engine as a secret)` : "pass it as a secret"}, or \`pulumi config set --secret ${key} <value>\` for the plain \`pulumi\` CLI`);
    }
    out[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  for (const [key, env] of Object.entries(SECRET_CONFIG_ENV)) if (process.env[env] && !(key in out)) out[key] = process.env[env]!;
  return out;
}

/**
 * Sets (or, with `undefined`, removes) `bloom:*` keys in a stack file the way `pulumi config set` would, keeping
 * the file's comments and the order of the other keys. The stack file stays the one source of truth.
 */
export function writeStackConfigValues(file: string, values: Record<string, unknown>): void {
  const doc = parseDocument(readFileSync(file, "utf8"));
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) doc.deleteIn(["config", key]);
    else doc.setIn(["config", key], value);
  }
  writeFileSync(file, doc.toString());
}

/** A reader for validatePlatformConfig over a flat `bloom:*` map. */
export function configReader(values: Record<string, string>) {
  return (key: string): unknown => parseConfigValue(values[`bloom:${key}`]);
}

/** A stack file read and validated: the raw `bloom:*` values (as the engine takes them) and the typed config. */
export function loadStackConfigFile(file: string, stackName: string): { values: Record<string, string>; config: PlatformConfig } {
  const values = readStackConfigFile(file);
  return { values, config: validatePlatformConfig(configReader(values), stackName, Object.keys(values).map((k) => k.slice("bloom:".length))) };
}

export const loadStackConfig = (stackName: string, root = REPO_ROOT) => loadStackConfigFile(stackFilePath(stackName, root), stackName);
