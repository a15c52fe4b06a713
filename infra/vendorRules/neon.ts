/**
 * Neon's written rules that the platform's requests depend on (a mock accepts anything; Neon does not). Each rule
 * names the document it comes from. The Neon fake (test/fakes/neon) enforces the same rules.
 */
export const NEON_SOURCES = {
  branchExpiration: "neon.com/docs/guides/branch-expiration (Timestamp format requirements; Restrictions)",
  openapi: "@neondatabase/api-client 2.7.3, public-v2-for-users.gen.yaml (BranchCreateRequest, BranchUpdateRequest)",
} as const;

/** "Maximum expiration is 30 days from the current time" (branchExpiration). */
export const NEON_MAX_BRANCH_EXPIRY_HOURS = 24 * 30;

/** RFC 3339 with a time zone, second precision or finer (branchExpiration, "Timestamp format requirements"). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Why Neon would refuse `expiresAt` at `now`, or undefined when it accepts it. */
export function branchExpiryProblem(expiresAt: string, now: number): string | undefined {
  if (!RFC3339.test(expiresAt)) return `expires_at "${expiresAt}" is not RFC 3339 with a time zone, e.g. 2026-12-08T09:00:00Z (${NEON_SOURCES.branchExpiration})`;
  const at = Date.parse(expiresAt);
  if (at <= now) return `expires_at ${expiresAt} is not in the future (${NEON_SOURCES.branchExpiration})`;
  if (at > now + NEON_MAX_BRANCH_EXPIRY_HOURS * 3_600_000) return `expires_at ${expiresAt} is more than 30 days ahead: Neon's maximum (${NEON_SOURCES.branchExpiration})`;
  return undefined;
}

/** "Cannot expire branches that have children or create children from expiring branches"; nor the default branch. */
export const NEON_EXPIRY_RESTRICTIONS = {
  childOfExpiring: `Neon creates no child of a branch that has an expiry (${NEON_SOURCES.branchExpiration}, Restrictions)`,
  expireParent: `Neon sets no expiry on a branch that has children (${NEON_SOURCES.branchExpiration}, Restrictions)`,
  expireDefault: `Neon sets no expiry on a project's default branch (${NEON_SOURCES.branchExpiration}, Restrictions)`,
} as const;
