import { runPlatformStack } from "../stacks/platform/run";
import { runUnderMocks } from "./pulumiMocks";

/** Stand-ins for the platform's secrets: tests assert they never show up outside secret values. */
export const FAKE_PLATFORM_SECRETS: Record<string, string> = {
  "bloom:neonApiKey": "neon-key-that-must-stay-secret",
  "bloom:upstashApiKey": "upstash-key-that-must-stay-secret",
  "bloom:cloudflareApiToken": "cloudflare-token-that-must-stay-secret",
};

/** The platform program for `stack` with this `bloom:*` config (plus stand-in secrets), under Pulumi mocks. */
export function runPlatformUnderMocks(stack: string, config: Record<string, string>) {
  return runUnderMocks(stack, () => runPlatformStack() as Record<string, unknown>, { ...config, ...FAKE_PLATFORM_SECRETS }, Object.keys(FAKE_PLATFORM_SECRETS));
}
