import { describe, expect, it } from "vitest";
import { readStackConfig } from "../../infra/config/stackFile";
import { runUnderMocks } from "../../test/pulumiMocks";
import { runPlatformStack } from "./run";

describe("platform program entry", () => {
  it("rejects bad config before any resource registers, naming every bad field", async () => {
    const cfg = readStackConfig("staging");
    const tenants = JSON.parse(cfg["bloom:tenants"]!);
    tenants[0].id = "Legacy Clinic";
    const bad = { ...cfg, "bloom:tenants": JSON.stringify(tenants), "bloom:limts": "{}", "bloom:neonApiKey": "k" };
    const { registered, failure } = await runUnderMocks("staging", runPlatformStack, bad, ["bloom:neonApiKey"]);
    expect(String(failure)).toMatch(/bloom:tenants\[0\]\.id: .*slug/);
    expect(String(failure)).toMatch(/bloom:limts: is not a bloom setting/);
    expect(registered).toHaveLength(0);
  });

  it("requires the Neon API key as a stack secret on Neon stacks", async () => {
    const { failure } = await runUnderMocks("staging", runPlatformStack, readStackConfig("staging"));
    expect(String(failure)).toMatch(/bloom:neonApiKey/);
  });
});
