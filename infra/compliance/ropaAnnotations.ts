import { annotatedColumns, CATEGORY_LABELS, clinicDataCategories, SPECIAL_CATEGORY_LABELS } from "./columnAnnotations";

/**
 * ROPA annotations (GDPR Art. 30): every resource that holds personal data carries one as an input named `ropa`,
 * so the policy pack can require it and `bloom ropa` can write the record from the stack itself. Booking data about
 * patients is health data (Art. 9): the clinic is the controller for it, Bloom its processor.
 */
export interface RopaAnnotation {
  purpose: string;
  dataSubjects: string[];
  dataCategories: string[];
  /** Art. 9 categories, when any. */
  specialCategories: string[];
  retention: string;
  /** Cloud region id, or `local` (loopback, nothing leaves the machine). */
  region: string;
  /** Who stores it for us (a sub-processor), or `local`. */
  processor: string;
  /** Who sees it beyond the service itself, when anyone does. */
  recipients?: string[];
}

/** Resource types that hold personal data and must carry `ropa` (the policy pack's list). */
export const PERSONAL_DATA_TYPES = [...["Database", "DatabaseBranch", "MigrationHook", "KvDatabase"].map((t) => `pulumi-nodejs:dynamic/bloom:${t}`), "bloom:observability:Observability", "bloom:staging:StagingCopy"];

/** What the clinic databases hold: the categories come from the column annotations (columnAnnotations.ts). */
const CLINIC_DATA = {
  dataSubjects: ["patients", "clinic staff (therapists, users)"],
  ...clinicDataCategories(),
};

const processorOf = (region: string) => (region === "local" ? "local" : "Neon (Postgres)");

export function clinicDatabaseRopa(region: string, historyRetentionSeconds?: number): RopaAnnotation {
  const history = historyRetentionSeconds ? `; point-in-time history ${Math.round(historyRetentionSeconds / 3600)} h` : "";
  return { purpose: "booking and running clinic appointments (the Bloom app)", ...CLINIC_DATA, retention: `while the clinic is a customer; erased on offboarding${history}`, region, processor: processorOf(region) };
}

export function preDeploySnapshotRopa(region: string, snapshotTtlHours: number): RopaAnnotation {
  return { purpose: "a way back before each schema migration (rollback)", ...CLINIC_DATA, retention: `pre-deploy snapshots deleted after ${snapshotTtlHours} h`, region, processor: processorOf(region) };
}

export function snapshotBranchRopa(region: string, expiresAt?: string): RopaAnnotation {
  return { purpose: "a point-in-time copy taken before a risky step (rollback)", ...CLINIC_DATA, retention: expiresAt ? `until ${expiresAt}` : "until deleted by hand (no expiry set)", region, processor: processorOf(region) };
}

/**
 * The staging copy: some clinics' rows, masked (columnAnnotations.ts says how), in staging's own database. Masked
 * with a run key that is thrown away, but ids, amounts and hours are kept: pseudonymised data, still personal
 * data, so still the clinics' data processed on their behalf (Art. 30(2)), and only with their instructions.
 */
export function stagingCopyRopa(region: string, sourceStack: string, keepPreviousDays: number): RopaAnnotation {
  const columns = annotatedColumns().filter((c) => c.category !== "not-personal");
  const treatment = (category: string) => {
    const of = columns.filter((c) => c.category === category);
    const masked = of.filter((c) => c.mask !== "keep").length;
    return masked === of.length ? "replaced" : masked ? "partly replaced, the rest kept" : "kept";
  };
  const categories = (Object.keys(CATEGORY_LABELS) as (keyof typeof CATEGORY_LABELS)[]).filter((c) => columns.some((x) => x.category === c));
  return {
    purpose: `rehearsing changes on staging with a masked copy of ${sourceStack} (bloom staging refresh)`,
    dataSubjects: CLINIC_DATA.dataSubjects,
    dataCategories: categories.map((c) => `${CATEGORY_LABELS[c]}: ${treatment(c)}`),
    specialCategories: categories.filter((c) => SPECIAL_CATEGORY_LABELS[c]).map((c) => `${SPECIAL_CATEGORY_LABELS[c]}: pseudonymised (dates moved, patients masked)`),
    retention: `until the next refresh; the previous copy is deleted ${keepPreviousDays} days after a newer one is in use (the run key is never stored)`,
    region,
    processor: processorOf(region),
    recipients: ["the platform and app teams, through staging's own logins (prod's logins and password hashes never reach staging)"],
  };
}

export function keyValueStoreRopa(region: string): RopaAnnotation {
  return {
    purpose: "per-tenant rate limits and feature flags",
    dataSubjects: ["clinic staff and patients using the app"],
    dataCategories: ["request identifiers (user ids) in rate-limit counters and the limiter's analytics", "clinic ids"],
    specialCategories: [],
    retention: "rate-limit counters expire with their window (minutes); the limiter's analytics (identifier, allowed or rejected, per hour) expire 2 hours after their last write; flags have no personal data",
    region,
    processor: region === "local" ? "local" : "Upstash (Redis)",
  };
}

export function requestLogRopa(region: string, retentionDays: number): RopaAnnotation {
  return {
    purpose: "operating the service: request logs, SLO metrics and alerts",
    dataSubjects: ["clinic staff and patients using the app"],
    dataCategories: ["request metadata (tenant, user id, status, duration)"],
    specialCategories: [],
    retention: `log events deleted after ${retentionDays} days; metrics hold no personal data`,
    region,
    processor: "AWS (CloudWatch)",
  };
}

export function edgeRopa(zone: string): RopaAnnotation {
  return {
    purpose: "delivering the app: TLS, security headers, per-tenant rate limits at the edge",
    dataSubjects: ["clinic staff and patients using the app"],
    dataCategories: ["IP addresses and request metadata in transit"],
    specialCategories: [],
    retention: "not stored by the platform; Cloudflare's own logs per its DPA",
    region: `global edge (${zone})`,
    processor: "Cloudflare (edge)",
  };
}

/**
 * What an AWS resource holding personal data carries as tags: a marker and where its record lives, in characters
 * every AWS tag accepts (infra/vendorRules/aws.ts). The annotation itself rides on the Observability component.
 */
export function personalDataTags(stack: string): Record<string, string> {
  return { "bloom:personal-data": "request logs", "bloom:ropa": `bloom ropa --stack ${stack}` };
}
