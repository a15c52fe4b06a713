import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { parseConfigValue } from "./validate";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** The `bloom:*` values of a stack file, as Pulumi hands them to a program: objects as JSON text, scalars as text. */
export function readStackConfig(stack: string, root = REPO_ROOT): Record<string, string> {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  const doc = parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (!key.startsWith("bloom:")) continue;
    out[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

/** A reader for validatePlatformConfig over a flat `bloom:*` map. */
export function configReader(values: Record<string, string>) {
  return (key: string): unknown => parseConfigValue(values[`bloom:${key}`]);
}
