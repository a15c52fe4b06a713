/**
 * Names derived from environment and tenant ids. Postgres identifiers are capped at 63 bytes and are
 * case-folded, so everything here is lowercase and checked for length.
 */
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

/** The app's database name inside a project. */
export const APP_DATABASE = "bloom";
export const MIGRATOR_ROLE = "bloom_migrator";
export const APP_ROLE = "bloom_app";

/** Local backend: a branch is a database on the server, named after project and branch. */
export function localBranchDatabase(project: string, branch: string): string {
  return assertIdentifier(`${toIdentifier(project)}__${toIdentifier(branch)}`, "branch database");
}

/** Local backend: the prefix every branch database and role of a project starts with (`bloom_local__`). */
export function localProjectPrefix(project: string): string {
  return `${toIdentifier(project)}__`;
}

/** Local backend: roles are server-wide, so they are namespaced by project. */
export function localRoleName(project: string, role: string): string {
  return assertIdentifier(`${toIdentifier(project)}__${role}`, "role");
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
