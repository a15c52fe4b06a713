import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse, parseDocument } from "yaml";
import { parseConfigValue } from "./validate";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export const stackFilePath = (stack: string, root = REPO_ROOT): string => path.join(root, `Pulumi.${stack}.yaml`);

/** The `bloom:*` values of a stack file, as Pulumi hands them to a program: objects as JSON text, scalars as text. */
export function readStackConfig(stack: string, root = REPO_ROOT): Record<string, string> {
  return readStackConfigFile(stackFilePath(stack, root));
}

export function readStackConfigFile(file: string): Record<string, string> {
  const doc = parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (!key.startsWith("bloom:")) continue;
    out[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
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
