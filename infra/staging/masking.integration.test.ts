import { createHmac, randomBytes } from "node:crypto";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MaskStrategy } from "../compliance/columnAnnotations";
import { freshMigratorDatabase } from "../../test/databases";
import { hmacPads, MASKED_EMAIL_DOMAIN, MASKED_NAMES, MASKED_SECRET, MAX_SHIFT_DAYS, maskedSelect, shareMaskingKey, type MaskedColumn } from "./masking";

/** The SQL masking functions, evaluated by a real Postgres on a scratch table shaped like any tenant table. */
let db: Awaited<ReturnType<typeof freshMigratorDatabase>>;
let c: Client;
const COLUMNS: MaskedColumn[] = [
  { column: "id", type: "text", strategy: "keep" },
  { column: "clinic_id", type: "text", strategy: "keep" },
  { column: "v", type: "text", strategy: "keep" },
  { column: "day", type: "date", strategy: "date-shift" },
  { column: "at", type: "timestamp(3) without time zone", strategy: "date-shift" },
];

beforeAll(async () => {
  db = await freshMigratorDatabase("mask");
  c = new Client({ connectionString: db.url });
  await c.connect();
  await c.query(`CREATE TABLE "public"."person" (id text PRIMARY KEY, clinic_id text NOT NULL, v text, day date, at timestamp(3))`);
});

afterAll(async () => {
  await c?.end();
  await db?.drop();
});

async function load(values: (string | null)[], opts: { day?: string; at?: string; clinic?: string } = {}): Promise<void> {
  await c.query(`TRUNCATE "public"."person"`);
  await c.query(`INSERT INTO "public"."person" SELECT 'r' || n, $2, v, $3::date, $4::timestamp FROM unnest($1::text[]) WITH ORDINALITY AS x(v, n)`, [values, opts.clinic ?? "alpha", opts.day ?? null, opts.at ?? null]);
}

/** Every row's masked `v` (with `strategy`), day and at, in id order, under `runKey`. */
async function masked(strategy: MaskStrategy, runKey: Buffer, tenants = ["alpha"]): Promise<{ v: string | null; day: string | null; at: string | null }[]> {
  const columns = COLUMNS.map((col) => (col.column === "v" ? { ...col, strategy } : col));
  await c.query("BEGIN");
  try {
    await shareMaskingKey(c, runKey);
    const { rows } = await c.query(`SELECT v, day::text AS day, at::text AS at FROM (${maskedSelect("person", columns, tenants)}) AS m (id, clinic_id, v, day, at) ORDER BY length(id), id`);
    return rows;
  } finally {
    await c.query("ROLLBACK");
  }
}

const key = Buffer.alloc(32, 7);

describe("the SQL masking functions", () => {
  it("are HMAC-SHA-256 of the run key, exactly: an email's local part is node:crypto's digest for keys of 16 to 64 bytes and UTF-8 values", async () => {
    const values = ["", "a", "x".repeat(55), "x".repeat(56), "y".repeat(64), "z".repeat(119), "Ñúñez Ana 🙂 ", "€".repeat(200)];
    await load(values);
    for (const len of [16, 32, 64]) {
      const k = randomBytes(len);
      const expected = values.map((v) => `${createHmac("sha256", k).update(`email\0${v}`).digest("hex").slice(0, 16)}@${MASKED_EMAIL_DOMAIN}`);
      expect((await masked("email", k)).map((r) => r.v), `key of ${len} bytes`).toEqual(expected);
    }
  });

  it("are deterministic per run key, differ across keys, and tell values apart by case", async () => {
    await load(["ana@clinic.example", "ana@clinic.example", "Ana@clinic.example"]);
    const [a, b, upper] = (await masked("email", key)).map((r) => r.v);
    expect(a).toBe(b);
    expect(upper).not.toBe(a);
    expect((await masked("email", Buffer.alloc(32, 8)))[0]!.v).not.toBe(a);
  });

  it("keep formats: a phone its punctuation, length and country code; a token its prefix", async () => {
    await load(["+34 612-345-678", "612345678", "(93) 100 20 30 %", "12", "+1 ñ 555 0100"]);
    const phones = (await masked("phone", key)).map((r) => r.v!);
    expect(phones[0]).toMatch(/^\+34 0\d\d-\d{3}-\d{3}$/);
    expect(phones[1]).toMatch(/^00\d{7}$/);
    expect(phones[2]).toMatch(/^\(00\) \d{3} \d\d \d\d %$/);
    expect(phones[3]).toBe("000");
    // Two digits kept whatever the country code: "+1 5…" keeps the 5, and the third digit is 0.
    expect(phones[4]).toMatch(/^\+1 ñ 50\d \d{4}$/);
    await load(["pi_3Nabc", "nounderscore", "_lead"]);
    const tokens = (await masked("token", key)).map((r) => r.v!);
    expect(tokens[0]).toMatch(/^pi_masked[0-9a-f]{24}$/);
    expect(tokens[1]).toMatch(/^masked[0-9a-f]{24}$/);
    expect(tokens[2]).toMatch(/^masked[0-9a-f]{24}$/);
  });

  it("move a row's dates together, forward by 1 to 60 days, keeping the time of day", async () => {
    await load(Array.from({ length: 200 }, (_, i) => `v${i}`), { day: "2026-03-30", at: "2026-03-30 10:11:12.345" });
    const rows = await masked("keep", key);
    const shifts = rows.map((r) => (Date.parse(r.day!) - Date.parse("2026-03-30")) / 86_400_000);
    for (const [i, r] of rows.entries()) {
      expect(shifts[i]).toBeGreaterThanOrEqual(1);
      expect(shifts[i]).toBeLessThanOrEqual(MAX_SHIFT_DAYS);
      expect(r.at).toBe(`${r.day} 10:11:12.345`);
    }
    expect(new Set(shifts).size).toBeGreaterThan(30);
  });

  it("never give a person their own name back, not even one drawn from the masking's own lists, and leave nulls null", async () => {
    const input = MASKED_NAMES.first.flatMap((f) => MASKED_NAMES.last.map((l) => `${f} ${l}`));
    await load(input);
    const names = (await masked("person-name", key)).map((r) => r.v!);
    names.forEach((n, i) => expect(n).not.toBe(input[i]));
    expect(names.every((n) => /^[A-Z][a-z]+ [A-Z][a-z]+( [A-Z][a-z]+)?$/.test(n))).toBe(true);
    await load([null]);
    for (const s of ["email", "phone", "person-name", "secret", "token", "redact"] as const) expect((await masked(s, key))[0]!.v, s).toBeNull();
    expect(await masked("keep", key)).toEqual([{ v: null, day: null, at: null }]);
  });

  it("read only the chosen tenants, replace secrets with one value no password matches, and refuse a date shift of a text", async () => {
    await load(["hash-1"], { clinic: "beta" });
    expect(await masked("secret", key, ["alpha"])).toEqual([]);
    expect((await masked("secret", key, ["beta"]))[0]!.v).toBe(MASKED_SECRET);
    expect(() => maskedSelect("person", COLUMNS.map((col) => (col.column === "v" ? { ...col, strategy: "date-shift" } : col)), ["alpha"])).toThrow(/person\.v is text: date-shift masks dates and timestamps only/);
  });

  it("take the key as a bind parameter: no statement text holds it, and a run key of the wrong size is refused", async () => {
    const sql = maskedSelect("person", COLUMNS, ["alpha"]);
    const { inner, outer } = hmacPads(key);
    for (const secret of [key, inner, outer]) expect(sql).not.toContain(secret.toString("hex"));
    expect(() => hmacPads(randomBytes(8))).toThrow(/16 to 64 bytes/);
    expect(() => hmacPads(randomBytes(65))).toThrow(/16 to 64 bytes/);
  });
});
