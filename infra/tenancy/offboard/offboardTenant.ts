import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { withClient } from "../../database/sql/withClient";
import { fenceTenant, unfenceTenant } from "../tenantFence";
import { tenantRowCount } from "../tenantCatalog";
import { clearPendingPurge, readCatalogRow, type TenantLocation } from "../move/moveJournal";
import { MoveLease } from "../move/moveLease";
import { deleteTenantRows } from "../move/purgeCopy";
import { exportTenant, verifyExport, type ExportManifest } from "./tenantExport";

/**
 * Offboarding: the tenant is fenced, exported (encrypted, verified against its manifest), then erased from every
 * live database that holds it (its home, and the old copy of a recent move), each counted at 0 afterwards. The
 * erasure evidence — who, when, what, the export's checksums, and where copies remain and until when — is written
 * to the pool's `bloom_platform.erasure_log` and beside the export. Nothing is deleted unless the export verifies;
 * a rerun reuses a verified export, so a killed offboarding resumes.
 */
export interface RemainingCopy {
  where: string;
  until: string | null;
  note: string;
}

export interface ErasureEvidence {
  tenantId: string;
  erasedAt: string;
  erasedBy: string;
  databases: { location: TenantLocation; role: "home" | "old copy"; deleted: Record<string, number>; rowsRemaining: number }[];
  export: { dir: string; keyId: string; tables: Record<string, { rows: number; sha256: string; encryptedSha256: string; checksum: string }> };
  copiesRemaining: RemainingCopy[];
}

export interface OffboardOptions {
  tenantId: string;
  poolUrl: string;
  /** The tenant's dedicated database (its tenant stack), when it has one. */
  dedicatedUrl(): Promise<string | undefined>;
  exportDir: string;
  key: Buffer;
  actor: string;
  copiesRemaining(): Promise<RemainingCopy[]>;
  log?: (l: string) => void;
}

export async function offboardTenant(opts: OffboardOptions): Promise<ErasureEvidence> {
  const { tenantId } = opts;
  const log = opts.log ?? (() => undefined);
  return withClient(opts.poolUrl, async (pool) => {
    await MoveLease.hold(pool, tenantId);
    const row = await readCatalogRow(pool, tenantId);
    if (!row) throw new Error(`unknown tenant "${tenantId}": it is not in the pool's catalog`);
    if (row.move) throw new Error(`${row.move.direction === "extract" ? "an" : "a"} ${row.move.direction} of tenant "${tenantId}" is in progress: finish it or \`bloom tenants abort ${tenantId}\` before offboarding`);
    const urlOf = async (l: TenantLocation) => {
      if (l.kind === "pool") return opts.poolUrl;
      const url = await opts.dedicatedUrl();
      if (!url) throw new Error(`tenant "${tenantId}" lives in ${l.stack}, whose stack is missing: bring the stack back (pulumi up) before offboarding`);
      return url;
    };
    const places = [{ location: row.location, role: "home" as const }, ...(row.pendingPurge ? [{ location: row.pendingPurge.location, role: "old copy" as const }] : [])];
    const homeUrl = await urlOf(row.location);

    const manifest = await withClient(homeUrl, async (home) => {
      await fenceTenant(home, tenantId, "offboarding");
      const existingFile = path.join(opts.exportDir, "manifest.json");
      const existing = existsSync(existingFile) ? (JSON.parse(readFileSync(existingFile, "utf8")) as ExportManifest) : undefined;
      if (existing?.tenantId === tenantId && !(await verifyExport(opts.exportDir, opts.key)).length) {
        log(`reusing the verified export in ${opts.exportDir}`);
        return existing;
      }
      return exportTenant(home, tenantId, opts.exportDir, opts.key, log);
    }, "bloom-offboard");
    const problems = await verifyExport(opts.exportDir, opts.key);
    if (problems.length) throw new Error(`the export does not verify, so nothing was deleted (the tenant stays fenced): ${problems.join("; ")}`);
    log(`export verified: ${Object.keys(manifest.tables).length} tables decrypt to their manifest checksums`);

    const databases: ErasureEvidence["databases"] = [];
    for (const place of places) {
      databases.push(await withClient(await urlOf(place.location), async (c) => {
        const deleted = await deleteTenantRows(c, tenantId, { log });
        await c.query(`DELETE FROM "public"."clinic" WHERE "id" = $1`, [tenantId]);
        await unfenceTenant(c, tenantId);
        return { ...place, deleted, rowsRemaining: await tenantRowCount(c, tenantId) };
      }, "bloom-offboard"));
    }
    const evidence: ErasureEvidence = {
      tenantId, erasedAt: new Date().toISOString(), erasedBy: opts.actor, databases,
      export: { dir: opts.exportDir, keyId: manifest.keyId, tables: Object.fromEntries(Object.entries(manifest.tables).map(([t, e]) => [t, { rows: e.rows, sha256: e.sha256, encryptedSha256: e.encryptedSha256, checksum: e.checksum }])) },
      copiesRemaining: await opts.copiesRemaining(),
    };
    await pool.query(`INSERT INTO "bloom_platform"."erasure_log" ("tenant_id", "erased_by", "evidence") VALUES ($1, $2, $3)`, [tenantId, opts.actor, JSON.stringify(evidence)]);
    await clearPendingPurge(pool, tenantId);
    writeFileSync(path.join(opts.exportDir, "erasure-evidence.json"), `${JSON.stringify(evidence, null, 2)}\n`);
    return evidence;
  }, "bloom-offboard");
}
