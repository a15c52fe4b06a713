import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { upsertTenantRecord } from "../tenantCatalog";
import { readCatalogRow } from "./moveJournal";
import { purgeMovedCopy } from "./purgeCopy";
import { runTenantMove } from "./tenantMove";
import { query, requirePostgres } from "../../../test/postgres";
import { startMoveWorker } from "../../../test/moveWorkerProcess";
import { TENANT_MAINTENANCE_SQLSTATE } from "../tenantFence";
import { TENANTS, asApp, fingerprint, seedTenants, tenantDatabase, type TenantDatabase } from "../../../test/tenantFixtures";

/**
 * A mover that stops without dying (SIGSTOP: a paused VM, a GC stall, a debugger) still holds the tenant's move
 * lease, because the lease is bound to its database session, which lives on while the process is frozen. A second
 * mover is refused before it changes anything, however long the first is gone; resumed, the first finishes, and
 * nothing is lost or duplicated. (What this does not show: a lease taken over from a live but paused holder with a
 * fencing token, issue 19 — the session-bound lease never hands over while that session lives.)
 */
const only = (fp: Record<string, string>, tenant: string) => Object.fromEntries(Object.entries(fp).filter(([k]) => k.endsWith(`:${tenant}`) && !k.startsWith("clinic:")));
const PAUSE_MS = 12_000; // longer than the second mover waits for the lease (10 s)

describe("a paused mover keeps its tenant (real Postgres)", () => {
  let pool: TenantDatabase;
  let dedicated: TenantDatabase;

  beforeAll(async () => {
    await requirePostgres();
    [pool, dedicated] = await Promise.all([tenantDatabase("pzpool"), tenantDatabase("pzded")]);
    for (const t of TENANTS) await upsertTenantRecord(pool.url, { id: t, name: t, tier: "standard", isolation: "pooled", location: { kind: "pool" } });
    await seedTenants(pool.url);
    await query(pool.url, `INSERT INTO "patient" (id, name, clinic_id) SELECT 'pz-' || i, 'bulk ' || i, 'alpha' FROM generate_series(1, 20000) i`);
  });
  afterAll(async () => {
    await Promise.all([pool?.drop(), dedicated?.drop()]);
  });

  it(`a mover frozen with SIGSTOP for ${PAUSE_MS / 1000} s mid-extract: a second mover is refused and changes nothing; resumed, the first finishes with every row once`, async () => {
    const reference = only(await fingerprint(pool.url), "alpha");
    const worker = startMoveWorker({ tenantId: "alpha", direction: "extract", poolUrl: pool.url, dedicatedUrl: dedicated.url });
    await worker.started;
    const catalog = new Client({ connectionString: pool.url });
    await catalog.connect();
    let pausedAfter: string | undefined;
    try {
      // Freeze the mover once the tenant is fenced for the copy (the journal says "fence"): mid-move, data in flight.
      const midMove = async () => ["fence", "copy", "verify"].includes((await readCatalogRow(catalog, "alpha"))?.move?.step ?? "");
      for (let i = 0; i < 3000 && !(await midMove()); i++) await new Promise((r) => setTimeout(r, 2));
      worker.child.kill("SIGSTOP");
      const frozenAt = Date.now();
      const journal = (await readCatalogRow(catalog, "alpha"))!.move;
      expect(journal?.step, "frozen after the fence, before the cutover").toMatch(/^(fence|copy|verify)$/);
      pausedAfter = journal!.step;
      // Frozen, the mover still fences the tenant: the app's writes are refused with the retryable error.
      expect((await asApp(pool.appUrl, "alpha", `INSERT INTO "branch" (id, name, clinic_id) VALUES ('pz-b', 'x', 'alpha')`)).code).toBe(TENANT_MAINTENANCE_SQLSTATE);
      const before = { pool: await fingerprint(pool.url), dedicated: await fingerprint(dedicated.url), row: await readCatalogRow(catalog, "alpha") };

      const second = runTenantMove({
        tenantId: "alpha", direction: "extract", poolUrl: pool.url, graceMs: 0,
        dedicated: { kind: "dedicated", stack: "test-alpha", project: "test-alpha" },
        hooks: { declare: async () => undefined, provisionDedicated: async () => dedicated.url, dedicatedUrl: async () => dedicated.url },
      });
      await expect(second).rejects.toThrow(/another process is moving or purging tenant "alpha" right now/);
      expect({ pool: await fingerprint(pool.url), dedicated: await fingerprint(dedicated.url), row: await readCatalogRow(catalog, "alpha") }, "the refused mover changed nothing").toEqual(before);

      await new Promise((r) => setTimeout(r, Math.max(0, PAUSE_MS - (Date.now() - frozenAt))));
      worker.child.kill("SIGCONT");
      expect(await worker.exited).toMatchObject({ killed: false });
    } finally {
      worker.child.kill("SIGCONT");
      await catalog.end();
    }
    console.log(`paused mover: frozen after step "${pausedAfter}" (fenced, copy in flight) for ${PAUSE_MS} ms; a second mover refused; resumed, it finished`);
    const row = await withCatalog((c) => readCatalogRow(c, "alpha"));
    expect(row).toMatchObject({ location: { kind: "dedicated" }, move: null });
    expect(only(await fingerprint(dedicated.url), "alpha")).toEqual(reference);
    await purgeMovedCopy(pool.url, "alpha", { dedicatedUrl: async () => dedicated.url, now: true });
    expect(only(await fingerprint(pool.url), "alpha")).toEqual({});
  }, 120_000);

  async function withCatalog<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = new Client({ connectionString: pool.url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }
});
