import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRoleDrift, ensureAppRole, withCredentials } from "./appRole";
import { APP_ROLE_SETTINGS } from "./appPrivileges";
import { throughPooler } from "../local/pgbouncer";
import { requirePostgres, query } from "../../../test/postgres";
import { asApp, fingerprint, othersOf, seedTenants, tenantDatabase, type TenantDatabase } from "../../../test/tenantFixtures";

/**
 * Issue 22, attack 4: role settings and a password the app plants on its own role. The next re-assertion of the
 * role (every AppRole update; `up` updates it when drift is detected) owns the whole role again, and the drift is
 * visible before that. The password is checked through PgBouncer's SCRAM: the local server trusts loopback.
 */
const POOLER = { host: "127.0.0.1", port: Number(process.env.BLOOM_TEST_POOLER_PORT), stateDir: "" };
let db: TenantDatabase;
let password: string;

beforeAll(async () => {
  await requirePostgres();
  if (!POOLER.port) throw new Error("BLOOM_TEST_POOLER_PORT is not set: the test harness (test/globalSetup.ts) starts PgBouncer");
  db = await tenantDatabase("role");
  password = new URL(db.appUrl).password;
  await seedTenants(db.url);
});
afterAll(async () => {
  await db?.drop();
});

const roleSettings = async () => (await query<{ db: string; config: string[] }>(db.url,
  `SELECT coalesce(d.datname, '*') AS db, s.setconfig AS config FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase
   WHERE s.setrole = $1::regrole ORDER BY 1`, [db.appRole]));

describe("attack 4: settings and a password planted on the app role", () => {
  it("read-only and lifted timeouts (role-wide and per database) are gone after the role is re-asserted; writes work again", async () => {
    const before = othersOf(await fingerprint(db.url), null);
    const planted = await asApp(db.appUrl, null, `ALTER ROLE CURRENT_USER SET default_transaction_read_only = on;
      ALTER ROLE CURRENT_USER SET statement_timeout = 0; ALTER ROLE CURRENT_USER SET idle_in_transaction_session_timeout = 0;
      ALTER ROLE CURRENT_USER IN DATABASE "${new URL(db.url).pathname.slice(1)}" SET lock_timeout = 0; SELECT 1`);
    expect(planted.code).toBeUndefined();
    expect((await asApp(db.appUrl, "alpha", `INSERT INTO "branch" (id, name, clinic_id) VALUES ('ro', 'ro', 'alpha')`)).code).toBe("25006");
    expect((await appRoleDrift(db.url, db.appRole, throughPooler(db.appUrl, POOLER))).map((d) => d.kind)).toContain("settings");
    const carrier = new Client({ connectionString: db.appUrl }); // opened under the planted settings: read-only
    carrier.on("error", () => undefined);
    await carrier.connect();
    expect((await carrier.query("SHOW default_transaction_read_only")).rows[0].default_transaction_read_only).toBe("on");

    const lines: string[] = [];
    await ensureAppRole(db.url, db.appRole, password, (l) => lines.push(l));
    expect(await carrier.query("SELECT 1").then(() => "alive", () => "ended")).toBe("ended"); // it carried them
    expect(lines.join("\n")).toMatch(/default_transaction_read_only=on.*: terminated session pid \d+/);
    expect(await roleSettings()).toEqual([{ db: "*", config: Object.entries(APP_ROLE_SETTINGS).map(([k, v]) => `${k}=${v}`) }]);
    expect((await asApp(db.appUrl, "alpha", `INSERT INTO "branch" (id, name, clinic_id) VALUES ('ro', 'ro', 'alpha') RETURNING id`)).rows).toEqual([{ id: "ro" }]);
    expect(await appRoleDrift(db.url, db.appRole, throughPooler(db.appUrl, POOLER))).toEqual([]);
    expect(othersOf(await fingerprint(db.url), "alpha")).toEqual(othersOf(before, "alpha"));
  });

  it("a password the app set itself is reported as drift (through SCRAM) and replaced by the platform's on re-assertion", async () => {
    expect((await asApp(db.appUrl, null, `ALTER ROLE CURRENT_USER PASSWORD 'locked-out'; SELECT 1`)).code).toBeUndefined();
    const pooled = throughPooler(db.appUrl, POOLER);
    const viaPooler = async (url: string) => {
      const c = new Client({ connectionString: url });
      // PgBouncer answers a failed SCRAM exchange with 08P01 and the server's words; the server itself with 28P01.
      return c.connect().then(() => c.end().then(() => "ok"), (e: Error) => (/password authentication failed|SASL authentication failed/.test(e.message) ? "refused" : e.message));
    };
    expect(await viaPooler(pooled)).toBe("refused");
    expect((await appRoleDrift(db.url, db.appRole, pooled)).map((d) => d.kind)).toEqual(["password"]);

    await ensureAppRole(db.url, db.appRole, password);
    expect(await viaPooler(pooled)).toBe("ok");
    expect(await viaPooler(throughPooler(withCredentials(db.url, db.appRole, "locked-out"), POOLER))).toBe("refused");
  });
});
