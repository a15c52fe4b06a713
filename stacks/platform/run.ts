import * as pulumi from "@pulumi/pulumi";
import { parseConfigValue, validatePlatformConfig } from "../../infra/config/validate";
import { platformProgram } from "./program";


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
  const config = validatePlatformConfig((key) => parseConfigValue(cfg.get(key)), pulumi.getStack(), bloomKeysPresent());
  return platformProgram(config, {
    neonApiKey: () => cfg.requireSecret("neonApiKey"),
    upstashApiKey: () => cfg.requireSecret("upstashApiKey"),
    cloudflareApiToken: () => cfg.requireSecret("cloudflareApiToken"),
  });
}
