import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertTenantRecord } from "../tenantCatalog";
import { offboardTenant } from "./offboardTenant";
import { parseExportKey, verifyExport } from "./tenantExport";
import { query, requirePostgres } from "../../../test/postgres";
import { TENANTS, asApp, fingerprint, seedTenants, tenantDatabase, type TenantDatabase } from "../../../test/tenantFixtures";

/** Offboarding on real Postgres: encrypted export that verifies, erasure everywhere, evidence; refusals first. */
describe("offboarding a tenant (real Postgres)", () => {
  let pool: TenantDatabase;
  const key = randomBytes(32);
  const dirs: string[] = [];
  const tmp = () => { const d = mkdtempSync(path.join(os.tmpdir(), "bloom-export-")); dirs.push(d); return d; };
  const offboard = (tenantId: string, exportDir: string) => offboardTenant({
    tenantId, poolUrl: pool.url, exportDir, key, actor: "oncall@test", dedicatedUrl: async () => undefined,
    copiesRemaining: async () => [{ where: "branch predeploy-x", until: "2026-12-30T00:00:00Z", note: "deleted when it expires" }],
  });

  beforeAll(async () => {
    await requirePostgres();
    pool = await tenantDatabase("offb");
    for (const t of TENANTS) await upsertTenantRecord(pool.url, { id: t, name: t, tier: "standard", isolation: "pooled", location: { kind: "pool" } });
    await seedTenants(pool.url);
  });
  afterAll(async () => {
    await pool?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("the export key is required, 32 bytes, with the way to make one", () => {
    expect(() => parseExportKey(undefined)).toThrow(/BLOOM_EXPORT_KEY.*openssl rand -base64 32/);
    expect(() => parseExportKey(Buffer.alloc(16).toString("base64"))).toThrow(/32-byte/);
  });

  it("refuses a non-empty export folder before erasing anything", async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, "other.txt"), "x");
    const before = await fingerprint(pool.url);
    await expect(offboard("beta", dir)).rejects.toThrow(/is not empty/);
    expect(await fingerprint(pool.url)).toEqual(before);
  });

  it("exports (encrypted, verifying), erases the tenant everywhere, leaves the others, records the evidence", async () => {
    const dir = tmp();
    const before = await fingerprint(pool.url);
    const evidence = await offboard("beta", dir);
    expect(await verifyExport(dir, key)).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
    expect(manifest.tables.patient.rows).toBe(3);
    // The files are encrypted: no patient name appears in them.
    expect(readFileSync(path.join(dir, "patient.copy.enc")).includes(Buffer.from("p-beta-0"))).toBe(false);
    expect(await verifyExport(dir, randomBytes(32))).toEqual([expect.stringMatching(/key does not open this export/)]);
    const after = await fingerprint(pool.url);
    expect(Object.keys(after).filter((k) => k.endsWith(":beta"))).toEqual([]);
    expect(after).toEqual(Object.fromEntries(Object.entries(before).filter(([k]) => !k.endsWith(":beta"))));
    expect(evidence.databases).toEqual([expect.objectContaining({ role: "home", rowsRemaining: 0 })]);
    expect(Object.values(evidence.databases[0]!.deleted).reduce((a, b) => a + b, 0)).toBe(19);
    const logged = await query<{ tenant_id: string; erased_by: string; evidence: { copiesRemaining: unknown[] } }>(pool.url, `SELECT tenant_id, erased_by, evidence FROM bloom_platform.erasure_log`);
    expect(logged).toEqual([expect.objectContaining({ tenant_id: "beta", erased_by: "oncall@test" })]);
    expect(logged[0]!.evidence.copiesRemaining).toHaveLength(1);
    expect((await asApp(pool.appUrl, "alpha", `SELECT count(*)::int AS n FROM bloom_platform.erasure_log`)).code).toBe("42501");

    // Tampering is caught: one flipped byte in an encrypted file.
    const file = path.join(dir, "payment.copy.enc");
    const bytes = readFileSync(file);
    bytes[20] = bytes[20]! ^ 0xff;
    writeFileSync(file, bytes);
    expect((await verifyExport(dir, key)).join()).toMatch(/payment: the encrypted file's sha256 differs/);
  });
});
