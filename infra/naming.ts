/**
 * Names derived from environment and tenant ids. Postgres identifiers are capped at 63 bytes and are
 * case-folded, so everything here is lowercase and checked for length.
 */
import { createHash } from "node:crypto";

const PG_IDENTIFIER_MAX = 63;

function assertIdentifier(name: string, what: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name) || name.length > PG_IDENTIFIER_MAX) {
    throw new Error(`${what} "${name}" is not a valid Postgres identifier (lowercase, digits, _; <= 63 chars)`);
  }
  return name;
}

export const toIdentifier = (slug: string): string => slug.replace(/-/g, "_");

/** The Neon project (or local namespace) for the shared pool of an environment. */
export const poolProjectName = (environment: string): string => `bloom-${environment}`;
/** The Neon project of a dedicated tenant. */
export const tenantProjectName = (environment: string, tenantId: string): string => `bloom-${environment}-${tenantId}`;
/** A dedicated tenant's Pulumi stack, beside its platform environment's. */
export const tenantStackName = (environment: string, tenantId: string): string => `${environment}-${tenantId}`;

/** The app's database name inside a project. */
export const APP_DATABASE = "bloom";
export const MIGRATOR_ROLE = "bloom_migrator";
export const APP_ROLE = "bloom_app";

/**
 * Local backend: a branch is a database on the server, named after project and branch. A long project (a 30-character
 * tenant id in `bloom-staging-<id>`) plus a snapshot name (`predeploy-20261127-0930-1a2b3c4d`) exceeds Postgres' 63
 * bytes, so the branch part is then cut and suffixed with a hash of the whole branch name: deterministic, distinct per
 * branch, and the project prefix intact (branches are listed by prefix; their real names live in the COMMENT).
 */
export function localBranchDatabase(project: string, branch: string): string {
  const prefix = localProjectPrefix(project);
  const full = `${prefix}${toIdentifier(branch)}`;
  if (full.length <= PG_IDENTIFIER_MAX) return assertIdentifier(full, "branch database");
  const room = PG_IDENTIFIER_MAX - prefix.length - 9; // "_" + 8 hex
  if (room < 1) throw new Error(`project "${project}" leaves no room for branch names in a 63-byte database name: shorten the tenant id`);
  const hash = createHash("sha256").update(branch).digest("hex").slice(0, 8);
  return assertIdentifier(`${prefix}${toIdentifier(branch).slice(0, room)}_${hash}`, "branch database");
}

/** Local backend: the prefix every branch database and role of a project starts with (`bloom_local__`). */
export function localProjectPrefix(project: string): string {
  return `${toIdentifier(project)}__`;
}

/** Local backend: roles are server-wide, so they are namespaced by project (fits: the longest project + role is 60). */
export function localRoleName(project: string, role: string): string {
  return assertIdentifier(`${toIdentifier(project)}__${role}`, "role");
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A text[] literal, for statements that take no bind parameters (COPY's query). */
export const textArrayLiteral = (values: string[]): string => `ARRAY[${values.map(quoteLiteral).join(", ")}]::text[]`;
