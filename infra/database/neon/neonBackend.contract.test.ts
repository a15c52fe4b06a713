import { describe, it } from "vitest";
import { describeBackendContract } from "../describeBackendContract";
import { NeonBackend } from "./neonBackend";
import { NeonFake } from "../../../test/fakes/neon/neonFake";
import { uniqueName } from "../../../test/postgres";

const fast = { retry: { baseDelayMs: 5, maxDelayMs: 50, maxTotalWaitMs: 10_000 }, pollIntervalMs: 10, operationTimeoutMs: 10_000 };

describeBackendContract("Neon (local HTTP fake validated against Neon's OpenAPI spec)", async () => {
  const fake = new NeonFake();
  const url = await fake.start();
  return {
    backend: new NeonBackend({ apiKey: fake.apiKey, apiBaseUrl: url, ...fast }),
    projectName: uniqueName("ct"),
    clock: { advance: (ms) => fake.advanceTime(ms), reset: () => fake.resetClock() },
    teardown: async () => {
      await fake.stop();
      if (fake.problems.length) throw new Error(`the Neon fake saw requests/answers outside the spec:\n${fake.problems.join("\n")}`);
    },
  };
});

const liveKey = process.env.NEON_API_KEY;
if (liveKey) {
  describeBackendContract("Neon (live)", async () => ({ backend: new NeonBackend({ apiKey: liveKey, orgId: process.env.NEON_ORG_ID }), projectName: uniqueName("bloom-ct") }));
} else {
  describe("database backend contract — Neon (live)", () => {
    it.skip("skipped: NEON_API_KEY is not set (set it, and NEON_ORG_ID if your key needs one, to run the contract against live Neon)", () => {});
  });
  console.warn("[contract] live Neon suite skipped: NEON_API_KEY is not set");
}
