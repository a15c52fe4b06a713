import { randomBytes } from "node:crypto";
import { withClient } from "./withClient";
import { quoteIdent, quoteLiteral } from "../../naming";
import { APP_ROLE_SETTINGS, appRoleSettings, applyAppPrivileges, expectedAppRoleSettings } from "./appPrivileges";
import { terminateForeignSessions } from "../../coordination/foreignSessions";
import { Client } from "pg";

/**
 * The app's login role, made with SQL by the migrator rather than through a provider API: on Neon, API-made roles
 * join neon_superuser, which bypasses row-level security. This role is no superuser, cannot bypass RLS, and holds
 * exactly the allow-list of appPrivileges.ts — re-applied, not added to, on every create and update.
 */
export interface AppRole {
  name: string;
  password: string;
}

/**
 * Creates or re-asserts the role; pass the current password to keep it (running app instances keep working).
 * Re-asserting owns the whole role again: the password is set to the platform's (the app can change its own), and
 * every role setting is reset to the platform's (applyAppPrivileges).
 */
export async function ensureAppRole(migratorUri: string, name: string, keepPassword?: string, log: (line: string) => void = (line) => console.warn(line)): Promise<AppRole> {
  const password = keepPassword ?? randomBytes(18).toString("base64url");
  return withClient(migratorUri, async (client) => {
    const exists = (await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name])).rowCount;
    // Only a superuser may name SUPERUSER/BYPASSRLS in ALTER ROLE, so an existing role just gets a new password;
    // the attribute check below still refuses a role that can bypass RLS.
    const attrs = exists ? `LOGIN PASSWORD ${quoteLiteral(password)}` : `LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD ${quoteLiteral(password)}`;
    await client.query(`${exists ? "ALTER" : "CREATE"} ROLE ${quoteIdent(name)} WITH ${attrs}`);
    // Membership lets the platform end the app's sessions that block a fence or a deploy (foreignSessions.ts);
    // the creator holds ADMIN on the role, so it may grant it to itself. Not for a superuser (it needs none).
    if (!(await client.query<{ s: boolean }>("SELECT rolsuper AS s FROM pg_roles WHERE rolname = current_user")).rows[0]!.s) {
      await client.query(`GRANT ${quoteIdent(name)} TO CURRENT_USER`);
    }
    const planted = plantedSettings(await appRoleSettings(client, name));
    await applyAppPrivileges(client, name);
    if (planted.length) {
      // Settings apply at session start: sessions opened while they were planted (a pooler keeps its server
      // connections for an hour) still carry them. Those go; the pooler opens new ones under the platform's settings.
      const sessions = (await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE usename = $1", [name])).rows.map((r) => r.pid);
      await terminateForeignSessions(client, sessions, `re-asserting app role ${name} (settings it did not get from the platform: ${planted.join(", ")})`, log);
    }
    const check = await client.query<{ rolsuper: boolean; rolbypassrls: boolean }>("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", [name]);
    if (check.rows[0]?.rolsuper || check.rows[0]?.rolbypassrls) {
      throw new Error(`app role "${name}" can bypass row-level security; it must be NOSUPERUSER NOBYPASSRLS`);
    }
    return { name, password };
  });
}

/** Settings the platform never sets: a name outside APP_ROLE_SETTINGS, or any per-database setting. */
function plantedSettings(actual: { database: string; settings: string[] }[]): string[] {
  return actual.flatMap((row) => row.settings.filter((kv) => row.database !== "*" || !(kv.slice(0, kv.indexOf("=")) in APP_ROLE_SETTINGS)).map((kv) => (row.database === "*" ? kv : `${kv} in ${row.database}`)));
}

/** How the role differs from what the platform last applied: its settings, or a password that no longer works. */
export type AppRoleDrift =
  | { kind: "settings"; expected: { database: string; settings: string[] }[]; actual: { database: string; settings: string[] }[] }
  | { kind: "password"; detail: string };

/**
 * The drift `bloom status` shows and `up` repairs. The password is checked by logging in through the pooler
 * (`appPooledUri`: PgBouncer's SCRAM locally, Neon's pooler in the cloud): the local server trusts loopback, so a
 * direct login would pass with any password.
 */
export async function appRoleDrift(migratorUri: string, role: string, appPooledUri: string): Promise<AppRoleDrift[]> {
  const drift: AppRoleDrift[] = [];
  const actual = await withClient(migratorUri, (c) => appRoleSettings(c, role), "bloom-status");
  const expected = expectedAppRoleSettings();
  if (JSON.stringify(actual) !== JSON.stringify(expected)) drift.push({ kind: "settings", expected, actual });
  const login = new Client({ connectionString: appPooledUri, application_name: "bloom-status", connectionTimeoutMillis: 10_000 });
  try {
    await login.connect();
  } catch (err) {
    if (!/password authentication failed|SASL authentication failed/.test((err as Error).message)) throw err;
    drift.push({ kind: "password", detail: `the app role's password no longer authenticates (someone changed it since the last \`up\`): \`pulumi up\` sets it again` });
  } finally {
    await login.end().catch(() => undefined);
  }
  return drift;
}

export async function dropAppRole(migratorUri: string, name: string): Promise<void> {
  await withClient(migratorUri, async (client) => {
    if (!(await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name])).rowCount) return;
    // DROP OWNED needs membership in the role; the migrator created it, so it may grant that to itself.
    await client.query(`GRANT ${quoteIdent(name)} TO CURRENT_USER`);
    await client.query(`DROP OWNED BY ${quoteIdent(name)}`);
    await client.query(`DROP ROLE ${quoteIdent(name)}`);
  });
}

/** The same server, database and options as `uri`, logged in as another role. */
export function withCredentials(uri: string, role: string, password: string): string {
  const url = new URL(uri);
  url.username = encodeURIComponent(role);
  url.password = encodeURIComponent(password);
  return url.toString();
}
