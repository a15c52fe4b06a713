import { describe, expect, it } from "vitest";
import { annotationProblems, annotatedColumns, clinicDataCategories, COLUMN_ANNOTATIONS } from "../compliance/columnAnnotations";
import { maskingRuleProblem } from "../vendorRules/neon";
import { neonMaskingRules } from "./neonMaskingRules";
import { parseSample, selectTenants } from "./tenantSample";

const key = Buffer.alloc(32, 7);

describe("column annotations", () => {
  it("refuse an unannotated column, a stale one, personal data kept without a reason, and a masked non-personal column", () => {
    const columns = annotatedColumns().map(({ table, column }) => ({ table, column }));
    expect(annotationProblems(columns)).toEqual([]);
    const broken = structuredClone(COLUMN_ANNOTATIONS);
    broken.patient!.phone = { category: "contact", mask: "keep" };
    broken.clinic!.name = { category: "not-personal", mask: "redact" };
    expect(annotationProblems([...columns.filter((c) => c.column !== "hour"), { table: "patient", column: "notes" }], broken)).toEqual([
      "patient.notes has no annotation: add it to COLUMN_ANNOTATIONS (infra/compliance/columnAnnotations.ts) with its category and masking, or \"not-personal\"",
      "clinic.name is not-personal but masked (redact): give it its personal category",
      "patient.phone is contact data kept unmasked without a reason: give a masking strategy or a reason",
      "appointment.hour is annotated but the database has no such column: remove the annotation",
    ]);
  });

  it("give the ROPA its data categories: a category no column holds is not listed, one a column gains is", () => {
    expect(clinicDataCategories()).toEqual({
      dataCategories: ["record identifiers (patients, staff, bookings, payments)", "names (patients, staff)", "contact data (email, phone)", "staff account credentials (password hashes)", "appointments and treatment packages", "payments (amounts, payment-provider references)"],
      specialCategories: ["health data (Art. 9: bookings reveal treatment)"],
    });
    const more = structuredClone(COLUMN_ANNOTATIONS);
    more.patient!.notes = { category: "free-text", mask: "redact" };
    expect(clinicDataCategories(more).dataCategories).toContain("free-text notes");
  });
});

describe("Neon masking rules", () => {
  it("are generated for every masked column, call documented functions only, and give exactly one of function and value", () => {
    const rules = neonMaskingRules("bloom");
    expect(rules.map((r) => `${r.table_name}.${r.column_name}`)).toEqual(annotatedColumns().filter((c) => c.mask !== "keep").map((c) => `${c.table}.${c.column}`));
    expect(rules.map(maskingRuleProblem).filter(Boolean)).toEqual([]);
    expect(rules.find((r) => r.column_name === "password_hash")).toMatchObject({ masking_value: "!masked-no-password-matches" });
    expect(rules.every((r) => !/pseudo_/.test(r.masking_function ?? ""))).toBe(true);
  });

  it("refuse an undocumented function, a pseudo_* one, and a rule with both or neither", () => {
    const base = { database_name: "bloom", schema_name: "public", table_name: "patient", column_name: "email" };
    expect(maskingRuleProblem({ ...base, masking_function: "anon.fake_emial()" })).toMatch(/anon\.fake_emial is not on the list of documented masking functions/);
    expect(maskingRuleProblem({ ...base, masking_function: "anon.pseudo_email(email)" })).toMatch(/anon\.pseudo_email is not on the list/);
    expect(maskingRuleProblem({ ...base, masking_function: "anon.hash(email)", masking_value: "x" })).toMatch(/exactly one/);
    expect(maskingRuleProblem(base)).toMatch(/exactly one/);
  });
});

describe("tenant sample", () => {
  const all = Array.from({ length: 21 }, (_, i) => `t${i}`);
  it("takes the ceiling of the share, whole tenants, the same for the same key", () => {
    expect(selectTenants(all, { sample: "10%" }, key)).toHaveLength(3);
    expect(selectTenants(all, { sample: "10%" }, key)).toEqual(selectTenants(all, { sample: "10%" }, Buffer.alloc(32, 7)));
    expect(selectTenants(all, { sample: "100%" }, key)).toEqual([...all].sort());
  });
  it("refuses a bad share, unknown tenants, and both options at once", () => {
    expect(() => parseSample("0%")).toThrow(/--sample "0%": a percentage/);
    expect(() => parseSample("10")).toThrow(/e\.g\. --sample 10%/);
    expect(() => selectTenants(all, { tenants: ["t1", "nope"] }, key)).toThrow(/--tenants: nope is not a pooled tenant of the source/);
    expect(() => selectTenants(all, { tenants: ["t1"], sample: "10%" }, key)).toThrow(/exclude each other/);
  });
});
