import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireLease, leaseGuardSql, leaseHolder, LeaseHeldError, tryAcquireLease } from "./lease";
import { freshMigratorDatabase } from "../../test/databases";
import { openedClients, requirePostgres, query } from "../../test/postgres";

/** Leases on a database that has no bloom_platform yet (a first deploy), as the migrator. */
let db: Awaited<ReturnType<typeof freshMigratorDatabase>>;
const sessions = openedClients();
const connect = () => sessions.connect(db.url, "bloom-lease-test");

beforeAll(async () => {
  await requirePostgres();
  db = await freshMigratorDatabase("lease");
});
afterAll(async () => {
  await sessions.endAll();
  await db?.drop();
});

describe("leases", () => {
  it("are taken on a database without bloom_platform (made with its table, nothing for PUBLIC), concurrently by one holder only", async () => {
    expect(await query(db.url, "SELECT to_regnamespace('bloom_platform') IS NULL AS absent")).toEqual([{ absent: true }]);
    const [a, b, c] = [await connect(), await connect(), await connect()];
    const got = await Promise.all([a, b, c].map((x, i) => tryAcquireLease(x, "first-deploy", `holder ${i}`)));
    expect(got.filter(Boolean)).toHaveLength(1);
    expect(await query(db.url, "SELECT has_schema_privilege('public', 'bloom_platform', 'USAGE') AS u, has_table_privilege('public', 'bloom_platform.leases', 'SELECT') AS s")).toEqual([{ u: false, s: false }]);
  });

  it("a session-bound lease: re-entrant for its session, refused to others with the holder named, free when the session ends, token incremented", async () => {
    const holder = await connect();
    const first = await acquireLease(holder, "tenant-move:beta", "mover A");
    expect((await tryAcquireLease(holder, "tenant-move:beta", "mover A"))?.token).toBe(first.token + 1);
    const rival = await connect();
    const err = await acquireLease(rival, "tenant-move:beta", "mover B", { waitMs: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(LeaseHeldError);
    expect(err.message).toMatch(/held by mover A \(pid \d+\)/);
    await holder.end();
    const taken = await acquireLease(rival, "tenant-move:beta", "mover B", { waitMs: 5_000 });
    expect(taken.token).toBe(first.token + 2);
    expect((await leaseHolder(rival, "tenant-move:beta"))?.holder).toBe("mover B");
    await taken.release();
    expect(await leaseHolder(rival, "tenant-move:beta")).toBeUndefined();
  });

  it("a time-bound lease (no session, e.g. a workflow id): renewed by its holder, taken over after it expires, and the old holder learns it lost it", async () => {
    const [a, b] = [await connect(), await connect()];
    const lease = await acquireLease(a, "workflow:move-beta", "workflow 1", { ttlMs: 400 });
    expect(await lease.renew(400)).toBe(true);
    expect(await tryAcquireLease(b, "workflow:move-beta", "workflow 2", { ttlMs: 400 })).toBeUndefined();
    await new Promise((r) => setTimeout(r, 600));
    const next = await acquireLease(b, "workflow:move-beta", "workflow 2", { ttlMs: 400 });
    expect(next.token).toBe(lease.token + 1);
    expect(await lease.renew()).toBe(false); // its fencing token is stale
    await lease.release(); // a stale holder's release leaves the new holder's lease alone
    expect((await leaseHolder(b, "workflow:move-beta"))?.holder).toBe("workflow 2");
  });

  it("a lease bound to its session and a time: free at once when the session ends, taken over after it expires while the session lives; the acquiring statement tags the session; a guarded write commits only for the holding token", async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()];
    const tagOf = async (x: typeof a) => (await x.query<{ name: string }>("SELECT current_setting('application_name') AS name")).rows[0]!.name;
    const first = await acquireLease(a, "worker:beta", "attempt 1", { ttlMs: 60_000, sessionBound: true, sessionTag: "mover:beta:1" });
    expect(await tagOf(a)).toBe("mover:beta:1");
    expect(await tryAcquireLease(b, "worker:beta", "attempt 2", { ttlMs: 400, sessionBound: true, sessionTag: "mover:beta:2" })).toBeUndefined();
    expect(await tagOf(b), "a waiter is not tagged").toBe("bloom-lease-test");
    await a.end(); // killed: its session ends long before its time would
    const second = await acquireLease(b, "worker:beta", "attempt 2", { ttlMs: 400, sessionBound: true, sessionTag: "mover:beta:2", waitMs: 5_000 });
    expect(second.token).toBe(first.token + 1);
    expect(await tagOf(b)).toBe("mover:beta:2");

    // Frozen (its session alive, no renewal): taken over once its time is up; its writes are refused from then on.
    await query(db.url, `CREATE TABLE IF NOT EXISTS guarded_probe (v int)`);
    const guardedInsert = (x: typeof a, token: number) => x.query(`INSERT INTO guarded_probe SELECT $3 WHERE ${leaseGuardSql(1, 2)}`, ["worker:beta", token, token]);
    expect((await guardedInsert(b, second.token)).rowCount).toBe(1);
    await new Promise((r) => setTimeout(r, 600));
    expect((await guardedInsert(b, second.token)).rowCount, "expired: not even its own writes until it renews").toBe(0);
    const third = await acquireLease(c, "worker:beta", "attempt 3", { ttlMs: 60_000, sessionBound: true });
    expect(third.token).toBe(second.token + 1);
    expect(await second.held()).toBe(false);
    expect(await second.renew()).toBe(false);
    expect((await guardedInsert(b, second.token)).rowCount, "the stale token's write").toBe(0);
    expect((await guardedInsert(c, third.token)).rowCount).toBe(1);
    expect(await query(db.url, "SELECT array_agg(v ORDER BY v) AS v FROM guarded_probe")).toEqual([{ v: [second.token, third.token] }]);
  });
});
