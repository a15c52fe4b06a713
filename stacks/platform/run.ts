import * as pulumi from "@pulumi/pulumi";
import { parseConfigValue, validatePlatformConfig } from "../../infra/config/validate";
import { platformProgram } from "./program";


/**
 * Whether the engine handed `key` over as a secret. @pulumi/pulumi keeps this @internal (absent from its types;
 * `Config.get` uses it to warn about a secret read as plain text); the plain-text credential test fails if it goes.
 */
const isConfigSecret = (key: string): boolean => (pulumi.runtime as unknown as { isConfigSecret(k: string): boolean }).isConfigSecret(key);

function bloomKeysPresent(): string[] {
  return Object.keys(pulumi.runtime.allConfig()).filter((k) => k.startsWith("bloom:")).map((k) => k.slice("bloom:".length));
}

/** The platform program as Pulumi runs it: config is validated before anything registers. */
export function runPlatformStack() {
  // Pulumi records a stack trace for every promise it tracks (runtime/debuggable.js). With source-mapped stacks, which
  // tsx turns on, each of those maps every frame: at 1,000 tenants that was seconds of the program's evaluation.
  // Error messages are unchanged; stack traces point at tsx's compiled code.
  process.setSourceMapsEnabled(false);
  const cfg = new pulumi.Config("bloom");
  const config = validatePlatformConfig((key) => parseConfigValue(cfg.get(key)), pulumi.getStack(), bloomKeysPresent(), (key) => isConfigSecret(`bloom:${key}`));
  return platformProgram(config, {
    neonApiKey: () => cfg.requireSecret("neonApiKey"),
    upstashApiKey: () => cfg.requireSecret("upstashApiKey"),
    cloudflareApiToken: () => cfg.requireSecret("cloudflareApiToken"),
  });
}
