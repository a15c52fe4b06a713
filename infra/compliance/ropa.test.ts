import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../config/stackFile";
import { ropaFor } from "../../scripts/compliance/ropaCommand";
import { buildRopa } from "./ropa";
import { clinicDatabaseRopa, keyValueStoreRopa, stagingCopyRopa } from "./ropaAnnotations";
import { clinicDataCategories } from "./columnAnnotations";
import { validatePlatformConfig } from "../config/validate";

describe("ROPA (GDPR Art. 30)", () => {
  // Each record comes from an evaluation of the staging program under mocks (seconds each): the tests share one
  // per format, and the determinism test compares it with an evaluation of its own.
  const records = new Map<"md" | "json", Promise<string>>();
  const stagingRopa = (format: "md" | "json") => records.get(format) ?? records.set(format, ropaFor("staging", format)).get(format)!;

  it("the committed staging records are what the stack produces today (regenerate with `npm run bloom -- ropa --stack staging`)", async () => {
    for (const format of ["md", "json"] as const) {
      const committed = readFileSync(path.join(REPO_ROOT, "docs", "compliance", `ropa-staging.${format}`), "utf8");
      expect(await stagingRopa(format), `docs/compliance/ropa-staging.${format} is stale`).toBe(committed);
    }
  });

  it("is byte-identical across runs", async () => {
    expect(await ropaFor("staging", "json")).toBe(await stagingRopa("json"));
  });

  it("names a sub-processor outside the EEA as a third-country transfer, and lists each clinic as a controller", () => {
    const config = validatePlatformConfig((k) => ({ environment: "staging", database: { backend: "local" }, tenants: [{ id: "acme", name: "Acme", tier: "standard", isolation: "pooled", residency: "us" }] } as Record<string, unknown>)[k]);
    const record = buildRopa("staging", config, [
      { type: "pulumi-nodejs:dynamic/bloom:Database", name: "pool-database", ropa: clinicDatabaseRopa("aws-us-east-2") },
      { type: "pulumi-nodejs:dynamic/bloom:KvDatabase", name: "flags-database", ropa: keyValueStoreRopa("eu-central-1") },
    ]);
    expect(record.processorRecord.subProcessors.find((s) => s.name.startsWith("Neon"))!.transfer).toMatch(/outside the EEA: a third-country transfer/);
    expect(record.processorRecord.subProcessors.find((s) => s.name.startsWith("Upstash"))!.transfer).toMatch(/stored in the EEA/);
    expect(record.processorRecord.controllers).toEqual([{ id: "acme", clinic: "Acme", tier: "standard", isolation: "pooled", residency: "us" }]);
    expect(record.processorRecord.processing.map((p) => p.specialCategories)).toEqual([["health data (Art. 9: bookings reveal treatment)"]]);
  });

  it("takes the clinic data's categories from the column annotations, and records the staging copy with its recipients", async () => {
    const record = JSON.parse(await stagingRopa("json"));
    const app = record.processorRecord.processing.find((p: { purpose: string }) => p.purpose.startsWith("booking"));
    expect(app.dataCategories).toEqual([...clinicDataCategories().dataCategories].sort());
    const copy = record.processorRecord.processing.find((p: { purpose: string }) => p.purpose.startsWith("rehearsing"));
    expect(copy).toMatchObject({ purpose: stagingCopyRopa("aws-eu-central-1", "prod", 7).purpose, recipients: [expect.stringMatching(/staging's own logins/)] });
    expect(copy.dataCategories).toContain("contact data (email, phone): replaced");
    expect(record.erasureTimeLimits).toContainEqual({ what: "the previous masked copy of prod on staging", limit: "7 days after a newer copy is in use (bloom:stagingCopy.keepPreviousDays)" });
  });
});
