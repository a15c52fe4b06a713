/**
 * Neon's written rules that the platform's requests depend on (a mock accepts anything; Neon does not). Each rule
 * names the document it comes from. The Neon fake (test/fakes/neon) enforces the same rules.
 */
export const NEON_SOURCES = {
  branchExpiration: "neon.com/docs/guides/branch-expiration (Timestamp format requirements; Restrictions)",
  openapi: "@neondatabase/api-client 2.7.3, public-v2-for-users.gen.yaml (BranchCreateRequest, BranchUpdateRequest)",
  regions: "neon.com/docs/introduction/regions (AWS regions; \"Azure regions deprecation\": no longer supported as of August 27, 2026)",
  anonymization: "neon.com/docs/workflows/data-anonymization (Beta: static masking with PostgreSQL Anonymizer; one set of rules per branch) and public-v2-for-users.gen.yaml (BranchAnonymizedCreateRequest, MaskingRule, AnonymizedBranchStatusResponse)",
  anonymizerFunctions: "postgresql-anonymizer.readthedocs.io, Masking functions (faking, pseudonymization, randomization, partial scrambling, hashing, adding noise, destruction)",
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

/**
 * The functions a masking rule may call: PostgreSQL Anonymizer's documented masking functions (anonymizerFunctions)
 * and the pg_catalog string functions the rules compose them with. Anything else is refused before a request is
 * sent (the anonymizer restricts masking to trusted schemas, and a typo would fail the whole anonymization).
 * pseudo_* functions are left out on purpose: they draw from a finite dictionary, so two emails of one clinic can
 * become the same one and break the (clinic_id, email) unique.
 */
export const ANONYMIZER_FUNCTIONS = ["anon.fake_first_name", "anon.fake_last_name", "anon.hash", "anon.random_phone", "anon.random_int_between", "anon.dnoise", "anon.lorem_ipsum"] as const;
const COMPOSING_FUNCTIONS = ["pg_catalog.left", "pg_catalog.right", "pg_catalog.split_part"] as const;

/** The end states of an anonymized branch's status (AnonymizedBranchStatusResponse.state). */
export const ANONYMIZED_STATES = { done: "anonymized", failed: ["initialization_error", "error"] } as const;

export interface NeonMaskingRule {
  database_name: string;
  schema_name: string;
  table_name: string;
  column_name: string;
  masking_function?: string;
  masking_value?: string;
}

/** Why Neon's anonymizer would not apply `rule` as meant, or undefined. */
export function maskingRuleProblem(rule: NeonMaskingRule): string | undefined {
  const where = `${rule.schema_name}.${rule.table_name}.${rule.column_name}`;
  if ((rule.masking_function === undefined) === (rule.masking_value === undefined)) return `${where}: a masking rule gives a masking_function or a masking_value, exactly one (${NEON_SOURCES.anonymization})`;
  if (rule.masking_function === undefined) return undefined;
  const allowed = new Set<string>([...ANONYMIZER_FUNCTIONS, ...COMPOSING_FUNCTIONS]);
  const called = [...rule.masking_function.matchAll(/([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\s*\(/gi)].map((m) => m[1]!);
  const unknown = called.filter((f) => !allowed.has(f));
  if (unknown.length) return `${where}: ${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not on the list of documented masking functions (${[...allowed].join(", ")}; ${NEON_SOURCES.anonymizerFunctions})`;
  if (!called.length) return `${where}: masking_function "${rule.masking_function}" calls no masking function (${NEON_SOURCES.anonymizerFunctions})`;
  return undefined;
}
