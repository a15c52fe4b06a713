import { Client } from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fenceTenant, tenantFence, unfenceTenant } from "./tenantFence";
import { setTenancyMode } from "./rlsModes";
import { openedClients, requirePostgres, query } from "../../test/postgres";
import { fingerprint, onApp, othersOf, seedTenants, tenantDatabase, type TenantDatabase } from "../../test/tenantFixtures";

/**
 * Issue 22, attacks 1 and 5: the fence must hold whatever snapshot the app writes with, and a transaction the app
 * keeps open with its own timeouts lifted must not hold a fence up forever.
 */
let db: TenantDatabase;
let migrator: Client;
const sessions = openedClients();
const connect = sessions.connect;

async function untilFenced(tenant: string): Promise<void> {
  for (let i = 0; i < 500 && !(await tenantFence(migrator, tenant)); i++) await new Promise((r) => setTimeout(r, 10));
}

beforeAll(async () => {
  await requirePostgres();
  db = await tenantDatabase("fence");
  await setTenancyMode(db.url, "enforce");
  migrator = await connect(db.url, "bloom-migrator");
});
beforeEach(async () => {
  await seedTenants(db.url);
});
afterEach(async () => {
  await unfenceTenant(migrator, "beta");
});
afterAll(async () => {
  await sessions.endAll();
  await db?.drop();
});

describe("attack 1: a write under a snapshot exported before the fence", () => {
  it("is refused with BL503 even though the transaction began after the fence; nothing of beta's is written", async () => {
    const before = othersOf(await fingerprint(db.url), "beta");
    const x = await connect(db.appUrl, "bloom-attacker-x");
    await x.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    const snapshot = (await x.query<{ s: string }>("SELECT pg_export_snapshot() AS s")).rows[0]!.s;

    const fencing = fenceTenant(await connect(db.url, "bloom-fencer"), "beta", "moving", { waitMs: 30_000 });
    await untilFenced("beta");
    const y = await connect(db.appUrl, "bloom-attacker-y");
    await y.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    await y.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
    await y.query(`SELECT set_config('app.clinic_id', 'beta', true)`);
    const write = await y.query(`INSERT INTO "branch" (id, name, clinic_id) VALUES ('dodge', 'dodge', 'beta')`).then(() => "OK", (e) => (e as { code: string }).code);
    await x.query("COMMIT");
    await fencing;
    await y.query(write === "OK" ? "COMMIT" : "ROLLBACK");

    expect(write).toBe("BL503");
    expect(await query(db.url, `SELECT id FROM "branch" WHERE id = 'dodge'`)).toEqual([]);
    expect(othersOf(await fingerprint(db.url), "beta")).toEqual(before);
  });

  it("a transaction that takes its own snapshot after the fence still writes an unfenced tenant (no false refusal)", async () => {
    await fenceTenant(migrator, "beta", "moving");
    const app = await connect(db.appUrl, "bloom-app");
    await app.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    await app.query(`SELECT set_config('app.clinic_id', 'alpha', true)`);
    await app.query(`INSERT INTO "branch" (id, name, clinic_id) VALUES ('fresh', 'fresh', 'alpha')`);
    await app.query("COMMIT");
    expect((await onApp(app, "beta", `INSERT INTO "branch" (id, name, clinic_id) VALUES ('late', 'late', 'beta')`)).code).toBe("BL503");
  });
});

describe("attack 5: the app lifts its own timeouts and keeps a transaction open over a direct connection", () => {
  it("the fence ends that session after its bound (logged, naming the pid) and completes", async () => {
    const before = othersOf(await fingerprint(db.url), null);
    const app = await connect(db.appUrl, "bloom-attacker");
    await app.query("SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET lock_timeout = 0");
    await app.query("BEGIN");
    const pid = (await app.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const lines: string[] = [];
    await fenceTenant(migrator, "beta", "moving", { waitMs: 5_000, terminateAppSessionsAfterMs: 500, log: (l: string) => lines.push(l) });
    expect(await tenantFence(migrator, "beta")).toMatchObject({ reason: "moving" });
    expect(lines.join("\n")).toMatch(new RegExp(`terminated .*pid ${pid}`));
    expect(await app.query("SELECT 1").then(() => "alive", () => "ended")).toBe("ended");
    expect(othersOf(await fingerprint(db.url), null)).toEqual(before);
  });

  it("never ends the platform's own sessions: an old migrator transaction still fails the fence, naming it", async () => {
    const other = await connect(db.url, "bloom-other-operation");
    await other.query("BEGIN");
    await other.query("SELECT 1");
    const err = await fenceTenant(migrator, "beta", "moving", { waitMs: 1_000, terminateAppSessionsAfterMs: 200 }).catch((e: Error) => e);
    expect(String(err)).toMatch(/still running after 1 s \(pid \d+/);
    expect(await other.query("SELECT 1").then(() => "alive", () => "ended")).toBe("alive");
    await other.query("COMMIT");
  });
});
