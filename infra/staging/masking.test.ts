import { createHmac, randomBytes } from "node:crypto";
import { FastHmac } from "./fastHmac";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { annotationProblems, annotatedColumns, clinicDataCategories, COLUMN_ANNOTATIONS } from "../compliance/columnAnnotations";
import { maskingRuleProblem } from "../vendorRules/neon";
import { Masker, MASKED_EMAIL_DOMAIN } from "./masking";
import { MaskingStream } from "./maskingStream";
import { neonMaskingRules } from "./neonMaskingRules";
import { parseSample, selectTenants } from "./tenantSample";

const key = Buffer.alloc(32, 7);
const m = new Masker(key);

describe("FastHmac", () => {
  it("is HMAC-SHA-256: equal to node:crypto's for keys of 16 to 64 bytes and messages of every length class, UTF-8 included", () => {
    const messages = ["", "a", "x".repeat(55), "x".repeat(56), "y".repeat(64), "z".repeat(119), "Ñúñez Ana 🙂 ", "€".repeat(200), randomBytes(300).toString("latin1")];
    for (const len of [16, 32, 64]) {
      const k = randomBytes(len);
      const fast = new FastHmac(k);
      for (const msg of messages) expect(fast.digest(msg).toString("hex"), `${len}:${msg.length}`).toBe(createHmac("sha256", k).update(msg).digest("hex"));
    }
  });
});

describe("masking functions", () => {
  it("are deterministic per run key and differ across keys", () => {
    expect(m.mask("email", "ana@clinic.example", "r")).toBe(new Masker(Buffer.alloc(32, 7)).mask("email", "ana@clinic.example", "other row"));
    expect(m.mask("email", "ana@clinic.example", "r")).not.toBe(new Masker(Buffer.alloc(32, 8)).mask("email", "ana@clinic.example", "r"));
    expect(m.mask("email", "ana@clinic.example", "r")).not.toBe(m.mask("email", "Ana@clinic.example", "r"));
  });

  it("keep formats: an email stays an email at a reserved domain, a phone keeps its length, punctuation and country code", () => {
    expect(m.mask("email", "ana@clinic.example", "r")).toMatch(new RegExp(`^[0-9a-f]{16}@${MASKED_EMAIL_DOMAIN.replace(".", "\\.")}$`));
    const phone = m.mask("phone", "+34 612-345-678", "r")!;
    expect(phone).toMatch(/^\+34 0\d\d-\d{3}-\d{3}$/);
    expect(m.mask("phone", "612345678", "r")).toMatch(/^00\d{7}$/);
    expect(m.mask("token", "pi_3Nabc", "r")).toMatch(/^pi_masked[0-9a-f]{24}$/);
    expect(m.mask("date-shift", "2026-03-30", "appointment:a1")).toMatch(/^2026-0[45]-\d\d$/);
    expect(m.mask("date-shift", "2026-03-30 10:11:12.345", "appointment:a1")!.slice(10)).toBe(" 10:11:12.345");
  });

  it("never give a row its own value back, and leave nulls null", () => {
    for (let i = 0; i < 2000; i++) {
      const name = `${["Alba", "Hugo", "Zoe"][i % 3]} ${["Gil", "Mas", "Roca"][i % 3]}`;
      expect(m.mask("person-name", name, `r${i}`)).not.toBe(name);
      expect(m.mask("date-shift", "2026-01-01", `r${i}`)).not.toBe("2026-01-01");
    }
    expect(m.mask("email", null, "r")).toBeNull();
  });

  it("refuse a run key shorter than 16 bytes or longer than 64", () => {
    expect(() => new Masker(randomBytes(8))).toThrow(/16 to 64 bytes/);
    expect(() => new Masker(randomBytes(65))).toThrow(/16 to 64 bytes/);
  });
});

describe("the masking COPY stream", () => {
  it("masks the named fields of COPY's text format across any chunk boundary, multi-byte characters and escapes included", async () => {
    const rows = ["p1\tÑúñez Ana\tana@x.example\t\\N", "p2\tJo\\tan\\\\ B\tjo@x.example\t+34 600 000 001"];
    const text = Buffer.from(`${rows.join("\n")}\n`);
    const expected = rows.map((r) => {
      const f = r.split("\t");
      return [f[0], m.mask("person-name", f[1]!, `patient:${f[0]}`), m.mask("email", f[2]!, ""), f[3] === "\\N" ? "\\N" : m.mask("phone", f[3]!, "")].join("\t");
    }).join("\n") + "\n";
    for (const size of [1, 2, 3, 7, text.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.subarray(i, i + size));
      const stream = new MaskingStream("patient", [{ index: 1, strategy: "person-name" }, { index: 2, strategy: "email" }, { index: 3, strategy: "phone" }], 0, m);
      let out = "";
      for await (const c of Readable.from(chunks).pipe(stream)) out += c;
      expect(out, `chunks of ${size}`).toBe(expected);
      expect(stream.rows).toBe(2);
    }
  });

  it("fails a stream that ends inside a row", async () => {
    const stream = new MaskingStream("patient", [], 0, m);
    await expect((async () => { for await (const _ of Readable.from([Buffer.from("p1\tx")]).pipe(stream)) void _; })()).rejects.toThrow(/ended inside a row/);
  });
});

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
