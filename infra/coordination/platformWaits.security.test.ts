import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MoveLease } from "../tenancy/move/moveLease";
import { applyPendingMigrations } from "../migrations/applyPendingMigrations";
import { loadMigrations } from "../migrations/migrationSource";
import { writeMigrationsDir } from "../../test/migrationFixtures";
import { openedClients, requirePostgres, query } from "../../test/postgres";
import { fingerprint, othersOf, seedTenants, tenantDatabase, type TenantDatabase } from "../../test/tenantFixtures";

/**
 * Issue 22, attacks 2 and 3: nothing the platform waits on may be a lock the app can take. The app role takes the
 * advisory keys the platform used to coordinate on (the move lock, Prisma's migration key) and sits idle on them;
 * the move lock and the migration deploy still go ahead, and still exclude each other where they must.
 */
let db: TenantDatabase;
const sessions = openedClients();
const connect = sessions.connect;

beforeAll(async () => {
  await requirePostgres();
  db = await tenantDatabase("waits");
});
beforeEach(async () => {
  await seedTenants(db.url);
});
afterAll(async () => {
  await sessions.endAll();
  await db?.drop();
});

describe("attack 2: the app holds the move lock's advisory key", () => {
  it("the move lock is still taken by the platform; a second mover is still refused while the first holds it", async () => {
    const before = othersOf(await fingerprint(db.url), null);
    const app = await connect(db.appUrl, "bloom-attacker");
    expect((await app.query(`SELECT pg_advisory_lock(hashtext('bloom-tenant-move'), hashtext('beta')) IS NOT NULL AS held`)).rows[0].held).toBe(true);

    const mover = await connect(db.url, "bloom-mover");
    await MoveLease.hold(mover, "beta", { waitMs: 500 });
    const rival = await connect(db.url, "bloom-mover-2");
    await expect(MoveLease.hold(rival, "beta", { waitMs: 500 })).rejects.toThrow(/another process is moving or purging tenant "beta"/);
    await mover.end();
    await MoveLease.hold(rival, "beta", { waitMs: 5_000 }); // the holder's session ended: the lease is free again
    expect(othersOf(await fingerprint(db.url), null)).toEqual(before);
  });
});

describe("attack 3: the app holds Prisma's migration key (72707369)", () => {
  it("a deploy applies its migrations anyway, while a real Prisma run by the migrator's own role stops it at once (P1002)", async () => {
    const before = othersOf(await fingerprint(db.url), null);
    const app = await connect(db.appUrl, "bloom-attacker");
    await app.query("SELECT pg_advisory_lock(72707369)");
    const dir = writeMigrationsDir({ "001_waits": "CREATE TABLE waits_probe (id int);" });
    const res = await applyPendingMigrations(db.url, loadMigrations(dir), { database: db.database, migrationLockTimeoutMs: 500 });
    expect(res.applied).toEqual(["001_waits"]);
    expect(await query(db.url, "SELECT to_regclass('public.waits_probe') IS NOT NULL AS ok")).toEqual([{ ok: true }]);
    await app.query("SELECT pg_advisory_unlock_all()");

    const prisma = await connect(db.url, "prisma-migrate"); // the migrator's own role: could be a real `prisma migrate deploy`
    await prisma.query("SELECT pg_advisory_lock(72707369)");
    const err = await applyPendingMigrations(db.url, loadMigrations(writeMigrationsDir({ "001_waits": "CREATE TABLE waits_probe (id int);", "003_more": "SELECT 1;" })),
      { database: db.database, migrationLockTimeoutMs: 500 }).catch((e) => e);
    expect(err.code).toBe("P1002");
    await prisma.query("SELECT pg_advisory_unlock_all()");
    expect(othersOf(await fingerprint(db.url), null)).toEqual(before);
  });
});

describe("a deploy takes no advisory lock: nothing of its own that an app session could contend for", () => {
  it("a migration that looks for advisory locks held by its own session finds none", async () => {
    const dir = writeMigrationsDir({ "004_no_advisory": `DO $$ BEGIN
      IF EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()) THEN
        RAISE EXCEPTION 'the deploy session holds an advisory lock';
      END IF; END $$;` });
    const res = await applyPendingMigrations(db.url, loadMigrations(dir), { database: db.database });
    expect(res.applied).toEqual(["004_no_advisory"]);
  });
});

describe("attack 5 at a deploy: an app transaction with its timeouts lifted holds a lock a migration needs", () => {
  it("the deploy ends that session after its bound (logged, naming the pid) and applies the migration", async () => {
    const before = othersOf(await fingerprint(db.url), null);
    const app = await connect(db.appUrl, "bloom-attacker");
    await app.query("SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET lock_timeout = 0");
    await app.query("BEGIN");
    await app.query(`SELECT set_config('app.clinic_id', 'alpha', true)`);
    await app.query(`UPDATE "patient" SET name = 'held' WHERE clinic_id = 'alpha'`); // ROW EXCLUSIVE, which CREATE INDEX waits for
    const pid = (await app.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const lines: string[] = [];
    const dir = writeMigrationsDir({ "002_blocked": `CREATE INDEX "patient_name_waits_idx" ON "patient" ("name");` });
    const res = await applyPendingMigrations(db.url, loadMigrations(dir), { database: db.database, lockTimeoutMs: 200, lockRetries: 4, terminateAppSessionsAfterMs: 300, log: (l) => lines.push(l) });
    expect(res.applied).toEqual(["002_blocked"]);
    expect(lines.join("\n")).toMatch(new RegExp(`terminated session pid ${pid} \\(role ${db.appRole}`));
    expect(await app.query("SELECT 1").then(() => "alive", () => "ended")).toBe("ended");
    expect(othersOf(await fingerprint(db.url), null)).toEqual(before); // the held update was rolled back with its session
  });
});

