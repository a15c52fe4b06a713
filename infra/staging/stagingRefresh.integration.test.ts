import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withClient } from "../database/sql/withClient";
import { COLUMN_ANNOTATIONS } from "../compliance/columnAnnotations";
import { query, TEST_PG_URL } from "../../test/postgres";
import { poolDatabase, seedProdLike } from "../../test/stagingFixtures";
import { localBranchDatabase } from "../naming";
import { MASKED_EMAIL_DOMAIN, MASKED_SECRET } from "./masking";
import { refreshStagingCopy, StagingVerificationError, type DatabaseAt, type StagingRefreshSpec } from "./refresh";

/**
 * The local staging refresh on real Postgres: a prod-like pool of 4 tenants and 144 k rows, 3 of them (108 k rows)
 * copied masked into a new branch of a staging pool, then checked from outside the refresh's own verification.
 */
const TENANTS = ["north", "south", "east", "west"];
const ROWS_PER_TENANT = 36_000;
const PATIENTS = 10_800; // 30 % of a tenant's rows (test/stagingFixtures.ts)
let prod: Awaited<ReturnType<typeof poolDatabase>>;
let staging: Awaited<ReturnType<typeof poolDatabase>>;
const at = (db: typeof prod): DatabaseAt => {
  const u = new URL(db.url);
  return { backend: db.backend, projectId: db.projectId, branchId: "main", database: "bloom", role: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
};
const branchUrl = (db: typeof prod, branch: string) => Object.assign(new URL(TEST_PG_URL), { pathname: `/${localBranchDatabase(db.projectId, branch)}` }).toString();
let stamp = 0;
const spec = (over: Partial<StagingRefreshSpec> = {}): StagingRefreshSpec & { lines: string[] } => {
  const lines: string[] = [];
  return { source: { ...at(prod), tenants: TENANTS }, target: at(staging), selection: {}, runKey: randomBytes(32), stamp: `t${++stamp}`, log: (l) => lines.push(l), lines, ...over };
};
const branches = async () => (await staging.backend.listBranches(staging.projectId)).map((b) => b.name).sort();

beforeAll(async () => {
  prod = await poolDatabase("stg-prod");
  staging = await poolDatabase("stg-staging");
  await seedProdLike(prod.url, TENANTS, ROWS_PER_TENANT);
  // Staging's current copy: one tenant of old, already-masked data the app uses today.
  await seedProdLike(staging.url, ["old"], 200);
}, 300_000);

afterAll(async () => {
  await prod?.drop();
  await staging?.drop();
});

describe("bloom staging refresh (local: masked in the COPY stream)", () => {
  let copyUrl: string;
  const runKey = randomBytes(32);
  const chosen = ["east", "north", "south"];

  it("copies 3 whole tenants (108 k rows) into a new branch, verified: nothing masked equals an original, counts equal, every constraint valid", async () => {
    // While it loads, the new branch carries an expiry (a crash leaves nothing that lasts); once verified, none.
    let duringLoad: Promise<string | undefined> | undefined;
    const s = spec({ runKey, selection: { tenants: ["south", "north", "east"] } });
    const log = s.log;
    s.log = (l) => {
      log(l);
      if (l.startsWith("  copied patient")) duringLoad = staging.backend.listBranches(staging.projectId).then((bs) => bs.find((b) => b.name === "copy-t1")?.expiresAt);
    };
    const result = await refreshStagingCopy(s);
    const expiry = await duringLoad;
    expect(Date.parse(expiry!) - Date.now()).toBeGreaterThan(23 * 3_600_000);
    expect(result.branch!.expiresAt).toBeUndefined();
    expect((await staging.backend.listBranches(staging.projectId)).find((b) => b.name === "copy-t1")!.expiresAt).toBeUndefined();
    expect(result.tenants).toEqual(chosen);
    expect(result.rows).toBe(3 * ROWS_PER_TENANT);
    expect(result.report!.ok).toBe(true);
    // Every clinic's emails and phones, the one not copied included.
    const [{ n }] = await query<{ n: number }>(prod.url, `SELECT count(DISTINCT v)::int AS n FROM (SELECT email AS v FROM "patient" UNION ALL SELECT email FROM "user" UNION ALL SELECT email FROM "therapist" UNION ALL SELECT phone FROM "patient") x WHERE v IS NOT NULL`) as [{ n: number }];
    expect(result.report!.originalContactValues).toBe(n);
    copyUrl = branchUrl(staging, result.branch!.name);
    // The old copy is still there, untouched (the app keeps using it until it is repointed).
    expect(await branches()).toEqual(["copy-t1", "main"]);
    expect(await query(staging.url, `SELECT count(*)::int AS n FROM "patient" WHERE clinic_id = 'old'`)).toEqual([{ n: 60 }]);
  });

  it("the copy holds the chosen tenants only, with the source's row counts per tenant and table", async () => {
    for (const table of ["user", "branch", "therapist", "patient", "paquete", "appointment", "payment"]) {
      const sql = `SELECT clinic_id, count(*)::int AS n FROM "${table}" GROUP BY 1 ORDER BY 1`;
      const want = (await query(prod.url, sql)).filter((r) => chosen.includes(r.clinic_id as string));
      expect(await query(copyUrl, sql), table).toEqual(want);
    }
  });

  it("checked from outside the refresh: no original email, name, phone, hash or provider id is left, and formats hold", async () => {
    const originals = await query<{ v: string }>(prod.url, `SELECT email AS v FROM "patient" UNION SELECT email FROM "user" UNION SELECT email FROM "therapist" UNION SELECT phone FROM "patient" WHERE phone IS NOT NULL
      UNION SELECT name FROM "patient" UNION SELECT name FROM "user" UNION SELECT password_hash FROM "user" UNION SELECT stripe_id FROM "payment" WHERE stripe_id IS NOT NULL`);
    const masked = await query<{ v: string }>(copyUrl, `SELECT email AS v FROM "patient" UNION SELECT email FROM "user" UNION SELECT email FROM "therapist" UNION SELECT phone FROM "patient" WHERE phone IS NOT NULL
      UNION SELECT name FROM "patient" UNION SELECT name FROM "user" UNION SELECT password_hash FROM "user" UNION SELECT stripe_id FROM "payment" WHERE stripe_id IS NOT NULL`);
    const before = new Set(originals.map((r) => r.v));
    expect(masked.filter((r) => before.has(r.v))).toEqual([]);
    const [emails] = await query<{ bad: number; n: number }>(copyUrl, `SELECT count(*) FILTER (WHERE email !~ '^[0-9a-f]{16}@${MASKED_EMAIL_DOMAIN.replace(".", "\\.")}$')::int AS bad, count(*)::int AS n FROM "patient"`);
    expect(emails).toEqual({ bad: 0, n: 3 * PATIENTS });
    // Phones keep their shape: "+34 " then 9 digits, the first a 0; nulls stay null.
    const phones = await query<{ ok: boolean; nulls: number }>(copyUrl, `SELECT bool_and(phone ~ '^\\+34 0[0-9]{8}$') AS ok, count(*) FILTER (WHERE phone IS NULL)::int AS nulls FROM "patient"`);
    const nulls = await query<{ nulls: number }>(prod.url, `SELECT count(*) FILTER (WHERE phone IS NULL)::int AS nulls FROM "patient" WHERE clinic_id = ANY($1)`, [chosen]);
    expect(phones).toEqual([{ ok: true, nulls: nulls[0]!.nulls }]);
    expect(await query(copyUrl, `SELECT DISTINCT password_hash FROM "user"`)).toEqual([{ password_hash: MASKED_SECRET }]);
    expect(await query(copyUrl, `SELECT bool_and(stripe_id ~ '^pi_masked[0-9a-f]{24}$') AS ok FROM "payment" WHERE stripe_id IS NOT NULL`)).toEqual([{ ok: true }]);
    // Kept columns are kept: the branch address with its tab and backslash survived the COPY text form.
    expect(await query(copyUrl, `SELECT address FROM "branch" WHERE id = 'north-b1'`)).toEqual([{ address: "Carrer Major 1\t2º\\B" }]);
  });

  it("joins and uniques hold: the same person masks the same in every table and clinic; every appointment finds its patient", async () => {
    // Staff 1 and 2 are also therapists 1 and 2, under the same email: still equal after masking.
    expect(await query(copyUrl, `SELECT count(*)::int AS n FROM "user" u JOIN "therapist" t ON t.clinic_id = u.clinic_id AND t.email = u.email`)).toEqual([{ n: 6 }]);
    // One patient email is shared by all clinics: one masked value, in each chosen clinic.
    expect(await query(copyUrl, `SELECT count(DISTINCT email)::int AS values, count(*)::int AS rows FROM "patient" WHERE id LIKE '%-p1'`)).toEqual([{ values: 1, rows: 3 }]);
    expect(await query(copyUrl, `SELECT count(*)::int AS n FROM "appointment" a JOIN "patient" p ON p.clinic_id = a.clinic_id AND p.id = a.patient_id`))
      .toEqual(await query(prod.url, `SELECT count(*)::int AS n FROM "appointment" WHERE clinic_id = ANY($1)`, [chosen]));
    expect(await query(copyUrl, `SELECT count(*)::int AS n FROM pg_catalog.pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('u', 'f') AND NOT convalidated`)).toEqual([{ n: 0 }]);
    // Dates moved (1-60 days) and a booking's own timestamp moved with it.
    const moved = await query<{ same: number }>(copyUrl, `SELECT count(*)::int AS same FROM "appointment" WHERE date = date '2026-01-01' + (substring(id from '-a(\\d+)$')::int % 365)`);
    expect(moved).toEqual([{ same: 0 }]);
    const pick = `SELECT id, date::text AS d, created_at::date::text AS c FROM "appointment" WHERE id LIKE 'north-a%' ORDER BY id LIMIT 50`;
    const days = (a: string, b: string) => (Date.parse(a) - Date.parse(b)) / 86_400_000;
    const original = new Map((await query<{ id: string; d: string; c: string }>(prod.url, pick.replace("ORDER BY id LIMIT 50", "")) ).map((r) => [r.id, r]));
    for (const r of await query<{ id: string; d: string; c: string }>(copyUrl, pick)) {
      const o = original.get(r.id)!;
      expect(days(r.c, o.c), r.id).toBe(days(r.d, o.d));
    }
  });

  it("no original reaches the staging branch's table files, not even as a dead tuple", async () => {
    await query(TEST_PG_URL, "CHECKPOINT");
    const probes = ["p7.north@mail.example", "staff1.south@clinic.example", "shared.patient@mail.example"];
    const files = await query<{ path: string }>(copyUrl, `SELECT pg_relation_filepath(c.oid) AS path FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 't', 'i') AND pg_relation_filepath(c.oid) IS NOT NULL`);
    expect(files.length).toBeGreaterThan(8);
    const found: string[] = [];
    for (const f of files) {
      const hit = (await query<{ hit: string | null }>(copyUrl, `SELECT (SELECT p FROM unnest($2::text[]) p WHERE position(convert_to(p, 'UTF8') IN pg_read_binary_file($1)) > 0 LIMIT 1) AS hit`, [f.path, probes]))[0]!.hit;
      if (hit) found.push(`${f.path}: ${hit}`);
    }
    // The check can see: the same probe finds the originals in prod's files.
    const prodAdmin = branchUrl(prod, "main");
    const prodFile = (await query<{ path: string }>(prodAdmin, `SELECT pg_relation_filepath('"patient"') AS path`))[0]!.path;
    const seen = (await query<{ seen: boolean }>(prodAdmin, `SELECT position(convert_to('p7.north@mail.example', 'UTF8') IN pg_read_binary_file($1)) > 0 AS seen`, [prodFile]))[0]!.seen;
    expect(seen).toBe(true);
    expect(found).toEqual([]);
  });

  it("the same run key gives the same masked values; another key gives others", async () => {
    const sig = async (url: string) => (await query<{ h: string }>(url, `SELECT md5(string_agg(id || email || coalesce(phone, '') || name, ',' ORDER BY id)) AS h FROM "patient"`))[0]!.h;
    const again = await refreshStagingCopy(spec({ runKey, selection: { tenants: chosen } }));
    const other = await refreshStagingCopy(spec({ selection: { tenants: chosen } }));
    expect(await sig(branchUrl(staging, again.branch!.name))).toBe(await sig(copyUrl));
    expect(await sig(branchUrl(staging, other.branch!.name))).not.toBe(await sig(copyUrl));
  });

  it("a column left unmasked (a contact column, and a name) is caught by the scan: the copy's branch is deleted, staging keeps its old copy", async () => {
    const leaky = structuredClone(COLUMN_ANNOTATIONS);
    leaky.patient!.email = { category: "contact", mask: "keep", reason: "deliberately unmasked" };
    leaky.user!.name = { category: "name", mask: "keep", reason: "deliberately unmasked" };
    const before = await branches();
    const s = spec({ selection: { tenants: ["west"] }, masksOverride: leaky });
    const err = await refreshStagingCopy(s).catch((e) => e);
    expect(err).toBeInstanceOf(StagingVerificationError);
    expect((err as StagingVerificationError).report.problems).toEqual([
      `user.name: ${ROWS_PER_TENANT / 100} row(s) keep their original value (the column is annotated "person-name" but was not masked)`,
      `patient.email: ${PATIENTS} masked value(s) equal an original contact value in the source`,
    ]);
    expect(await branches()).toEqual(before);
    expect(await query(staging.url, `SELECT count(*)::int AS n FROM "patient" WHERE clinic_id = 'old'`)).toEqual([{ n: 60 }]);
  });

  it("a sample of 50 % takes ⌈50 %⌉ of the tenants, whole, chosen by the run key; --dry-run prints rules and counts, creates nothing, never the key", async () => {
    const key = randomBytes(32);
    const before = await branches();
    const s = spec({ runKey: key, selection: { sample: "50%" }, dryRun: true });
    const result = await refreshStagingCopy(s);
    expect(result.tenants).toHaveLength(2);
    expect((await refreshStagingCopy(spec({ runKey: key, selection: { sample: "50%" }, dryRun: true }))).tenants).toEqual(result.tenants);
    expect(s.lines).toContain("  patient.email: email (contact)");
    expect(s.lines.find((l) => l.startsWith("  rows in patient:"))).toBe(`  rows in patient: ${result.tenants.map((t) => `${t} ${PATIENTS}`).join(", ")}`);
    expect(s.lines.at(-1)).toBe("dry run: nothing was created or copied");
    const out = s.lines.join("\n");
    for (const form of [key.toString("hex"), key.toString("base64"), key.toString("base64url")]) expect(out).not.toContain(form);
    expect(await branches()).toEqual(before);
  });

  it("a column the annotations do not know is refused before anything is created, naming it and the fix", async () => {
    await withClient(prod.url, (c) => c.query(`ALTER TABLE "patient" ADD COLUMN "notes" text`));
    try {
      const before = await branches();
      await expect(refreshStagingCopy(spec({ selection: { tenants: ["west"] } }))).rejects.toThrow(/patient\.notes has no annotation: add it to COLUMN_ANNOTATIONS \(infra\/compliance\/columnAnnotations\.ts\)/);
      expect(await branches()).toEqual(before);
    } finally {
      await withClient(prod.url, (c) => c.query(`ALTER TABLE "patient" DROP COLUMN "notes"`));
    }
  });
});
