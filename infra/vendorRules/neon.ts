/**
 * Neon's written rules that the platform's requests depend on (a mock accepts anything; Neon does not). Each rule
 * names the document it comes from. The Neon fake (test/fakes/neon) enforces the same rules.
 */
export const NEON_SOURCES = {
  branchExpiration: "neon.com/docs/guides/branch-expiration (Timestamp format requirements; Restrictions)",
  openapi: "@neondatabase/api-client 2.7.3, public-v2-for-users.gen.yaml (BranchCreateRequest, BranchUpdateRequest)",
  regions: "neon.com/docs/introduction/regions (AWS regions; \"Azure regions deprecation\": no longer supported as of August 27, 2026)",
} as const;

/** The regions Neon offers a project (regions): a region id that matches the pattern but is not one is refused. */
export const NEON_REGIONS = ["aws-us-east-1", "aws-us-east-2", "aws-us-west-2", "aws-eu-central-1", "aws-eu-west-2", "aws-ap-southeast-1", "aws-ap-southeast-2", "aws-sa-east-1"] as const;
/** Neon's Azure regions, deprecated and unsupported since 2026-08-27 (regions). */
export const NEON_RETIRED_REGIONS = ["azure-eastus2", "azure-westus3", "azure-gwc"] as const;

/** Why Neon would not place a project in `region`, or undefined when it would. */
export function neonRegionProblem(region: string): string | undefined {
  if ((NEON_REGIONS as readonly string[]).includes(region)) return undefined;
  if ((NEON_RETIRED_REGIONS as readonly string[]).includes(region)) return `is a Neon Azure region, no longer supported since 2026-08-27: choose one of ${NEON_REGIONS.join(", ")} (${NEON_SOURCES.regions})`;
  return `is not a region Neon offers: choose one of ${NEON_REGIONS.join(", ")} (${NEON_SOURCES.regions})`;
}

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
