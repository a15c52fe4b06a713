import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { readCatalogRow } from "./moveJournal";
import { MOVE_SESSION_PREFIX, MoveLease } from "./moveLease";
import { runOnlineTenantMove } from "./onlineMove";
import { moveReplicationLeftovers } from "./replication";
import { serverAdminUrl } from "../../database/local/localPostgresBackend";
import { ensureLogicalTestPostgres } from "../../../scripts/services/ensurePostgres";
import { purgeMovedCopy } from "./purgeCopy";
import { runTenantMove } from "./tenantMove";
import { requirePostgres } from "../../../test/postgres";
import { startMoveWorker } from "../../../test/moveWorkerProcess";
import { TENANT_MAINTENANCE_SQLSTATE } from "../tenantFence";
import { asApp, fingerprint, moveDatabases, type TenantDatabase } from "../../../test/tenantFixtures";

/**
 * A mover that stops without dying (SIGSTOP: a paused VM, a GC stall, a debugger).
 *   - Run by hand (the CLI's session-bound lease): it still holds the tenant's move lease, because its database
 *     session lives on while the process is frozen. A second mover is refused before it changes anything, however
 *     long the first is gone; resumed, the first finishes, and nothing is lost or duplicated.
 *   - Run by a workflow (a lease bound to a time as well, renewed by the mover: moveLease.ts): once the frozen
 *     mover misses its renewals, a second mover takes the lease over with the next fencing token, ends the first
 *     one's sessions and finishes the move while the first is still frozen; resumed, the first — a zombie — is
 *     refused by its stale token and changes nothing.
 */
const only = (fp: Record<string, string>, tenant: string) => Object.fromEntries(Object.entries(fp).filter(([k]) => k.endsWith(`:${tenant}`) && !k.startsWith("clinic:")));
const PAUSE_MS = 12_000; // longer than the second mover waits for the lease (10 s)

describe("a paused mover keeps its tenant (real Postgres)", () => {
  let pool: TenantDatabase;
  let dedicated: TenantDatabase;

  beforeAll(async () => {
    await requirePostgres();
    ({ pool, dedicated } = await moveDatabases("pz", { bulk: { tenant: "alpha", rows: 20_000, idPrefix: "pz-" } }));
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

  const withCatalog = <T>(fn: (c: Client) => Promise<T>) => withConnection(pool.url, fn);

  it("a new holder ends earlier movers' sessions in its own database only: a tenant of the same id moving in another database of the server is left alone", async () => {
    const tagged = async (url: string) => {
      const c = new Client({ connectionString: url, application_name: `${MOVE_SESSION_PREFIX}gamma:0ldm0ver` });
      c.on("error", () => undefined);
      await c.connect();
      return c;
    };
    // The same role in another database (one it may end sessions in: its own role's), as a second pool would be.
    const otherDatabase = new URL(pool.url);
    otherDatabase.pathname = "/postgres";
    const [here, elsewhere] = [await tagged(pool.url), await tagged(otherDatabase.toString())];
    const holder = new Client({ connectionString: pool.url });
    await holder.connect();
    try {
      const lease = await MoveLease.hold(holder, "gamma");
      expect(await lease.endEarlierHolders(holder, () => undefined)).toBe(1);
      await expect(here.query("SELECT 1")).rejects.toThrow();
      expect((await elsewhere.query("SELECT 1 AS ok")).rows).toEqual([{ ok: 1 }]);
      await lease.release();
    } finally {
      await Promise.all([holder, here, elsewhere].map((c) => c.end().catch(() => undefined)));
    }
  });
});

const LEASE_TTL_MS = 3_000; // the workflow mover's lease: a heartbeat timeout, made short for the test

describe("a frozen workflow mover is taken over and, resumed, refused by its fencing token (real Postgres)", () => {
  let pool: TenantDatabase;
  let dedicated: TenantDatabase;

  beforeAll(async () => {
    await requirePostgres();
    ({ pool, dedicated } = await moveDatabases("zb", { bulk: { tenant: "alpha", rows: 40_000, idPrefix: "zb-" } }));
  });
  afterAll(async () => {
    await Promise.all([pool?.drop(), dedicated?.drop()]);
  });

  it(`a mover frozen mid-copy past its lease (${LEASE_TTL_MS} ms): a second mover takes over, ends its sessions and finishes while it is frozen; resumed, the first fails with MoveLeaseLost and changes nothing`, async () => {
    const reference = only(await fingerprint(pool.url), "alpha");
    const worker = startMoveWorker({ tenantId: "alpha", direction: "extract", poolUrl: pool.url, dedicatedUrl: dedicated.url, lease: { holder: "workflow A", ttlMs: LEASE_TTL_MS } });
    const exited = worker.exited.then(() => "exited 0", (err: Error) => err.message);
    await worker.started;
    const catalog = new Client({ connectionString: pool.url });
    await catalog.connect();
    const log: string[] = [];
    let frozenAfter: string | undefined;
    try {
      // Frozen right after the fence, with the copy in flight (its COPY transactions open on the target).
      for (let i = 0; i < 3000 && (await readCatalogRow(catalog, "alpha"))?.move?.step !== "fence"; i++) await new Promise((r) => setTimeout(r, 2));
      worker.child.kill("SIGSTOP");
      const frozenAt = Date.now();
      frozenAfter = (await readCatalogRow(catalog, "alpha"))?.move?.step;
      expect(frozenAfter, "frozen after the fence, before the copy completed").toBe("fence");
      const zombieSessions = await sessionsOf(catalog, "alpha");
      expect(zombieSessions.length, "the frozen mover has sessions open").toBeGreaterThan(1);

      // The second mover waits for the frozen one's lease to expire, takes it over, and finishes the move.
      const second = await runTenantMove({
        tenantId: "alpha", direction: "extract", poolUrl: pool.url, graceMs: 0, log: (l) => log.push(l),
        dedicated: { kind: "dedicated", stack: "test-alpha", project: "test-alpha" },
        hooks: { declare: async () => undefined, provisionDedicated: async () => dedicated.url, dedicatedUrl: async () => dedicated.url },
        lease: { holder: "workflow A, retried", ttlMs: LEASE_TTL_MS },
      });
      const tookOverAfterMs = Date.now() - frozenAt;
      expect(second.resumed, "it resumed the frozen mover's journal").toBe(true);
      expect(log.join("\n")).toMatch(/ended \d+ session\(s\) of an earlier mover of alpha \(token \d+ holds the lease now\)/);
      expect((await sessionsOf(catalog, "alpha")).filter((pid) => zombieSessions.includes(pid)), "none of the frozen mover's sessions is left").toEqual([]);
      expect(worker.child.exitCode, "the first mover is still frozen").toBeNull();
      const after = { pool: await fingerprint(pool.url), dedicated: await fingerprint(dedicated.url), row: await readCatalogRow(catalog, "alpha") };
      expect(after.row).toMatchObject({ location: { kind: "dedicated" }, move: null });
      expect(only(after.dedicated, "alpha")).toEqual(reference);

      // Resumed, the zombie learns its token is stale and stops without writing anything.
      worker.child.kill("SIGCONT");
      const outcome = await exited;
      expect(outcome).toMatch(/MoveLeaseLost: this mover lost the move lease of tenant "alpha"/);
      expect({ pool: await fingerprint(pool.url), dedicated: await fingerprint(dedicated.url), row: await readCatalogRow(catalog, "alpha") }, "the resumed zombie changed nothing").toEqual(after);
      console.log(`zombie mover: frozen after step "${frozenAfter}" with ${zombieSessions.length} sessions; taken over and finished by a second mover ${tookOverAfterMs} ms later; resumed, it stopped: ${/MoveLeaseLost: [^\n]*/.exec(outcome)?.[0]}`);
    } finally {
      worker.child.kill("SIGCONT");
      await catalog.end();
    }
    await purgeMovedCopy(pool.url, "alpha", { dedicatedUrl: async () => dedicated.url, now: true });
    expect(only(await fingerprint(pool.url), "alpha")).toEqual({});
  }, 120_000);
});

describe("a frozen online mover is taken over: its replication sessions are ended, no slot, publication or subscription is left (real Postgres, wal_level = logical)", () => {
  let serverUrl: string;
  let pool: TenantDatabase;
  let dedicated: TenantDatabase;
  const adminUrl = async (db: string) => serverAdminUrl(serverUrl, db);
  const leftovers = () => withConnection(serverAdminUrl(serverUrl, pool.url), (p) => withConnection(serverAdminUrl(serverUrl, dedicated.url), async (d) =>
    [...(await moveReplicationLeftovers(p, d)), ...(await moveReplicationLeftovers(d, p))]));

  beforeAll(async () => {
    serverUrl = await ensureLogicalTestPostgres(console.log);
    ({ pool, dedicated } = await moveDatabases("zo", { serverUrl, bulk: { tenant: "beta", rows: 40_000, idPrefix: "zo-" } }));
  }, 120_000);
  afterAll(async () => {
    await Promise.all([pool?.drop(), dedicated?.drop()]);
  });

  it(`an online mover frozen in its snapshot copy past its lease (${LEASE_TTL_MS} ms): a second mover ends its sessions (the slot's walsender among them) and finishes; resumed, the first fails with MoveLeaseLost; nothing is left streaming`, async () => {
    const reference = only(await fingerprint(pool.url), "beta");
    const worker = startMoveWorker({ tenantId: "beta", direction: "extract", poolUrl: pool.url, dedicatedUrl: dedicated.url, onlineServerUrl: serverUrl, copyRateMBps: 1, lease: { holder: "workflow B", ttlMs: LEASE_TTL_MS } });
    const exited = worker.exited.then(() => "exited 0", (err: Error) => err.message);
    await worker.started;
    const catalog = new Client({ connectionString: pool.url });
    await catalog.connect();
    const log: string[] = [];
    try {
      for (let i = 0; i < 3000 && (await readCatalogRow(catalog, "beta"))?.move?.running !== "replicate"; i++) await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, 500)); // into the copy, at 1 MB/s
      worker.child.kill("SIGSTOP");
      const journal = (await readCatalogRow(catalog, "beta"))?.move;
      expect(journal?.running, "frozen in the snapshot copy").toBe("replicate");
      const zombieSessions = await withConnection(serverAdminUrl(serverUrl, pool.url), (admin) => sessionsOf(admin, "beta"));
      const walsenders = await withConnection(serverAdminUrl(serverUrl, pool.url), async (admin) =>
        (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'walsender' AND pid = ANY($1)`, [zombieSessions])).rows[0].n as number);
      expect(walsenders, "the frozen mover holds the slot's replication connection").toBe(1);

      const second = await runOnlineTenantMove({
        tenantId: "beta", direction: "extract", poolUrl: pool.url, graceMs: 0, log: (l) => log.push(l), adminUrl,
        dedicated: { kind: "dedicated", stack: "test-beta", project: "test-beta" },
        hooks: { declare: async () => undefined, provisionDedicated: async () => dedicated.url, dedicatedUrl: async () => dedicated.url },
        lease: { holder: "workflow B, retried", ttlMs: LEASE_TTL_MS },
      });
      expect(second.resumed).toBe(true);
      expect(log.join("\n")).toMatch(/ended \d+ session\(s\) of an earlier mover of beta/);
      const left = await withConnection(serverAdminUrl(serverUrl, pool.url), (admin) => sessionsOf(admin, "beta"));
      expect(left.filter((pid) => zombieSessions.includes(pid)), "none of the frozen mover's sessions is left, superuser ones included").toEqual([]);
      expect(worker.child.exitCode, "the first mover is still frozen").toBeNull();
      const after = { pool: await fingerprint(pool.url), dedicated: await fingerprint(dedicated.url), row: await readCatalogRow(catalog, "beta") };
      expect(after.row).toMatchObject({ location: { kind: "dedicated" }, move: null });
      expect(only(after.dedicated, "beta")).toEqual(reference);

      worker.child.kill("SIGCONT");
      const outcome = await exited;
      expect(outcome).toMatch(/MoveLeaseLost: this mover lost the move lease of tenant "beta"/);
      expect({ pool: await fingerprint(pool.url), dedicated: await fingerprint(dedicated.url), row: await readCatalogRow(catalog, "beta") }, "the resumed zombie changed nothing").toEqual(after);
      expect(await leftovers(), "no slot, publication or subscription left").toEqual([]);
      console.log(`online zombie mover: frozen in the snapshot copy with ${zombieSessions.length} sessions (${walsenders} walsender); taken over and finished; resumed, it stopped: ${/MoveLeaseLost: [^\n]*/.exec(outcome)?.[0]}`);
    } finally {
      worker.child.kill("SIGCONT");
      await catalog.end();
    }
  }, 120_000);
});

/** The sessions a mover of the tenant tagged as its own (moveLease.ts), on the whole server. */
async function sessionsOf(c: Client, tenantId: string): Promise<number[]> {
  const { rows } = await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1`, [`${MOVE_SESSION_PREFIX}${tenantId}:%`]);
  return rows.map((r) => r.pid);
}

async function withConnection<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
