import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NeonBackend } from "../database/neon/neonBackend";
import { NeonFake } from "../../test/fakes/neon/neonFake";
import { uniqueName } from "../../test/postgres";
import { neonMaskingRules } from "./neonMaskingRules";
import { prepareAnonymizedSource } from "./neonAnonymizedSource";

/**
 * Prod's side of a Neon staging refresh against the Neon fake, every request checked against Neon's OpenAPI
 * document. The fake cannot mask data (it holds none): what this shows is the API conversation — what is created
 * where, with which rules, how the wait ends — not that Neon's anonymizer masks (the verification, which runs on
 * the data, decides that on every refresh).
 */
const fast = { retry: { baseDelayMs: 5, maxDelayMs: 50, maxTotalWaitMs: 10_000 }, pollIntervalMs: 10, operationTimeoutMs: 10_000 };
let fake: NeonFake;
let neon: NeonBackend;
let projectId: string;
let mainId: string;

beforeAll(async () => {
  fake = new NeonFake();
  neon = new NeonBackend({ apiKey: fake.apiKey, apiBaseUrl: await fake.start(), ...fast });
  const project = await neon.ensureProject({ name: uniqueName("anon"), regionId: "aws-eu-central-1", pgVersion: 17 });
  projectId = project.projectId;
  mainId = project.defaultBranchId;
});

afterAll(async () => {
  await fake.stop();
});

describe("Neon anonymized source for a staging copy (fake, validated against the spec)", () => {
  it("pins a point of prod, makes an anonymized child of it with the generated rules, started at once, and waits until it is anonymized", async () => {
    const lines: string[] = [];
    const src = await prepareAnonymizedSource(neon, { projectId, parentBranchId: mainId, database: "bloom", stamp: "s1", log: (l) => lines.push(l), pollMs: 10 });
    expect(src.point).toMatchObject({ name: "staging-point-s1", parentBranchId: mainId });
    expect(src.anonymized).toMatchObject({ name: "staging-anon-s1", parentBranchId: src.point.branchId });
    expect(Date.parse(src.anonymized.expiresAt!) - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
    const create = fake.requests.find((r) => r.method === "POST" && r.path.endsWith("/branch_anonymized"))!;
    expect(create.body).toMatchObject({ masking_rules: neonMaskingRules("bloom"), start_anonymization: true, branch_create: { branch: { name: "staging-anon-s1", parent_id: src.point.branchId } } });
    expect(fake.count("GET", /\/anonymized_status$/)).toBeGreaterThanOrEqual(2);
    expect(lines).toEqual([expect.stringMatching(/^prod: pinned staging-point-s1; anonymizing a child of it \(\d+ masking rules\)$/), `  anonymization: anonymizing (Anonymizing ${neonMaskingRules("bloom").length} column(s))`, "  anonymization: anonymized"]);
    expect(fake.problems).toEqual([]);
  });

  it("a rerun finds the anonymized branch, replaces its rules (PATCH replaces all) and starts it again", async () => {
    const patches = fake.count("PATCH", /\/masking_rules$/);
    await prepareAnonymizedSource(neon, { projectId, parentBranchId: mainId, database: "bloom", stamp: "s1", log: () => undefined, pollMs: 10 });
    expect(fake.count("PATCH", /\/masking_rules$/)).toBe(patches + 1);
    expect(fake.count("POST", /\/anonymize$/)).toBe(1);
    expect(fake.problems).toEqual([]);
  });

  it("an anonymization that ends in error deletes both branches and says so; nothing is left in prod's project", async () => {
    fake.failNextAnonymization("masking function anon.fake_email failed on public.patient.email");
    const before = (await neon.listBranches(projectId)).map((b) => b.name).sort();
    await expect(prepareAnonymizedSource(neon, { projectId, parentBranchId: mainId, database: "bloom", stamp: "s2", log: () => undefined, pollMs: 10 }))
      .rejects.toThrow(/anonymization of staging-anon-s2 ended "error": masking function anon.fake_email failed .*; its branches were deleted and nothing reached staging/);
    expect((await neon.listBranches(projectId)).map((b) => b.name).sort()).toEqual(before);
    expect(fake.problems).toEqual([]);
  });

  it("a rule Neon's anonymizer could not apply is refused before any request", async () => {
    const sent = fake.requests.length;
    await expect(neon.ensureAnonymizedBranch({ projectId, name: "bad", parentBranchId: mainId, maskingRules: [{ database_name: "bloom", schema_name: "public", table_name: "patient", column_name: "email", masking_function: "anon.pseudo_email(email)" }] }))
      .rejects.toThrow(/anon\.pseudo_email is not on the list of documented masking functions/);
    expect(fake.requests.length).toBe(sent);
  });
});
