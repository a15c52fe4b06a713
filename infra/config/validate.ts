import { platformConfigSchema, CONFIG_KEYS, SECRET_KEYS, type PlatformConfig } from "./schema";

/** One bad field: where (as `bloom:key.path[0].x`) and what to do about it. */
export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigValidationError extends Error {
  constructor(readonly problems: ConfigProblem[], stack?: string) {
    const where = stack ? ` for stack "${stack}"` : "";
    super(
      `Invalid bloom config${where} (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was changed:\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigValidationError";
  }
}

/** Reads one raw config value; throws on unparsable JSON/YAML so the key can be reported. */
export type RawConfigReader = (key: string) => unknown;

function formatPath(path: readonly PropertyKey[]): string {
  const [key, ...rest] = path;
  let out = `bloom:${String(key)}`;
  for (const part of rest) out += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
  return out;
}

/**
 * Validates every `bloom:*` key at once and returns the typed config, or throws a ConfigValidationError listing
 * every problem. Runs before the program registers anything, so a bad config never half-applies. `isSecret`, when
 * the caller knows (the program: the engine says which keys are secrets), refuses a credential held in plain text.
 */
export function validatePlatformConfig(read: RawConfigReader, stack?: string, presentKeys: readonly string[] = [], isSecret?: (key: string) => boolean): PlatformConfig {
  const raw: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  const known = new Set<string>([...CONFIG_KEYS, ...SECRET_KEYS]);
  for (const key of presentKeys) {
    if (!known.has(key)) problems.push({ path: `bloom:${key}`, message: `is not a bloom setting (known: ${[...known].join(", ")}): remove it or fix the spelling` });
    if (isSecret && (SECRET_KEYS as readonly string[]).includes(key) && !isSecret(key)) {
      problems.push({ path: `bloom:${key}`, message: `is in plain text in the stack's config (anyone who reads Pulumi.${stack ?? "<stack>"}.yaml reads it): store it as a secret — \`pulumi config set --secret bloom:${key} <value>\` (Automation API: setConfig("bloom:${key}", { value, secret: true }))` });
    }
  }
  for (const key of CONFIG_KEYS) {
    try {
      const value = read(key);
      if (value !== undefined) raw[key] = value;
    } catch (err) {
      problems.push({ path: `bloom:${key}`, message: `could not be parsed (${(err as Error).message}); fix the YAML/JSON value` });
    }
  }
  const parsed = platformConfigSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const message = issue.code === "unrecognized_keys"
        ? `has unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}: remove them or fix the spelling`
        : issue.path.length === 1 && issue.code === "invalid_type" && issue.input === undefined
          ? `is required: set it with \`pulumi config set --path bloom:${String(issue.path[0])} ...\``
          : issue.message;
      problems.push({ path: formatPath(issue.path.length ? issue.path : ["(root)"]), message });
    }
  }
  if (problems.length) throw new ConfigValidationError(problems, stack);
  return parsed.data!;
}

/** Structured config arrives as JSON text; plain strings stay strings (and fail validation by name if wrong). */
export function parseConfigValue(raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
