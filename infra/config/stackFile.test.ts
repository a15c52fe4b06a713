import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isSecretConfigKey, readStackConfigFile } from "./stackFile";
import { stackPassphrase } from "../../scripts/engine/localStack";

const file = (yaml: string) => {
  const f = path.join(mkdtempSync(path.join(os.tmpdir(), "bloom-stackfile-")), "Pulumi.staging.yaml");
  writeFileSync(f, yaml);
  return f;
};

describe("credentials on the runbook path", () => {
  afterEach(() => {
    delete process.env.NEON_API_KEY;
  });

  it("every bloom:*ApiKey is a secret for the engine", () => {
    expect(["bloom:neonApiKey", "bloom:upstashApiKey"].every(isSecretConfigKey)).toBe(true);
    expect(isSecretConfigKey("bloom:environment")).toBe(false);
  });

  it("refuses a secure: value with the key, the file and the fix, instead of passing ciphertext on as text", () => {
    const f = file("config:\n  bloom:environment: staging\n  bloom:neonApiKey:\n    secure: v1:abc:def\n");
    expect(() => readStackConfigFile(f)).toThrow(/bloom:neonApiKey in Pulumi.staging.yaml is encrypted \(secure:\).*export NEON_API_KEY/);
  });

  it("refuses a credential in plain text in the file, naming the key, the file and the fix", () => {
    const f = file("config:\n  bloom:environment: staging\n  bloom:neonApiKey: napi_plaintext\n");
    expect(() => readStackConfigFile(f)).toThrow(/bloom:neonApiKey is in plain text in Pulumi.staging.yaml: remove it from the file and export NEON_API_KEY/);
  });

  it("takes a credential from the environment when the file does not hold it", () => {
    process.env.NEON_API_KEY = "from-env";
    expect(readStackConfigFile(file("config:\n  bloom:environment: staging\n"))["bloom:neonApiKey"]).toBe("from-env");
  });

  it("uses the built-in passphrase only for the checkout's own file backend", () => {
    const saved = process.env.PULUMI_CONFIG_PASSPHRASE;
    delete process.env.PULUMI_CONFIG_PASSPHRASE;
    try {
      expect(stackPassphrase("file:///repo/.bloom/stacks/local/state", "/repo/.bloom/stacks/local/state")).toBe("bloom-local-stack");
      expect(() => stackPassphrase("s3://team-state", "/repo/.bloom/stacks/local/state")).toThrow(/set PULUMI_CONFIG_PASSPHRASE/);
      expect(stackPassphrase("s3://team-state", "/x", "given")).toBe("given");
    } finally {
      if (saved !== undefined) process.env.PULUMI_CONFIG_PASSPHRASE = saved;
    }
  });
});
