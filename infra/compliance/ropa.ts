import type { PlatformConfig } from "../config/schema";
import type { RopaAnnotation } from "./ropaAnnotations";

/**
 * The GDPR Art. 30 records of processing, written from a stack's config and the ROPA annotations its resources
 * carry: Art. 30(1) for what Bloom processes as controller, Art. 30(2) for what it processes for the clinics (each
 * clinic is the controller of its patients' data). Pure and ordered, so the same stack gives the same bytes.
 */
export interface AnnotatedResource {
  type: string;
  name: string;
  ropa: RopaAnnotation;
}

export interface SubProcessor {
  name: string;
  service: string;
  regions: string[];
  /** Where the data is stored, and what reaching it from outside the EEA would mean. */
  transfer: string;
}

export interface RopaRecord {
  stack: string;
  environment: string;
  controllerRecord: {
    article: "30(1)";
    controller: { name: string; contact: string };
    dpo: string;
    activities: { purpose: string; dataSubjects: string[]; dataCategories: string[]; recipients: string[]; transfers: string[]; erasure: string }[];
    security: string[];
  };
  processorRecord: {
    article: "30(2)";
    processor: { name: string; contact: string };
    dpo: string;
    controllers: { id: string; clinic: string; tier: string; isolation: string; residency: string }[];
    processing: { purpose: string; dataSubjects: string[]; dataCategories: string[]; specialCategories: string[]; where: string[]; retention: string[]; recipients?: string[] }[];
    subProcessors: SubProcessor[];
    security: string[];
  };
  erasureTimeLimits: { what: string; limit: string }[];
}

const EEA_REGION = /^(aws-eu-|azure-gwc|eu-|local$)/;
const SERVICES: Record<string, string> = {
  "Neon (Postgres)": "managed Postgres: the clinic databases, their branches and point-in-time history",
  "Upstash (Redis)": "managed Redis: rate-limit counters and feature flags",
  "AWS (CloudWatch)": "request logs, SLO metrics, alarms and the alert topic",
  "Cloudflare (edge)": "DNS, TLS, security headers and rate limits in front of the app",
};
const sorted = <T>(items: T[], key: (t: T) => string) => [...items].sort((a, b) => key(a).localeCompare(key(b)));
const unique = (items: string[]) => [...new Set(items)].sort();

function subProcessorsOf(resources: AnnotatedResource[]): SubProcessor[] {
  const byName = new Map<string, Set<string>>();
  for (const r of resources) {
    if (r.ropa.processor === "local") continue;
    byName.set(r.ropa.processor, (byName.get(r.ropa.processor) ?? new Set()).add(r.ropa.region));
  }
  return sorted([...byName.entries()].map(([name, regions]) => {
    const list = [...regions].sort();
    const global = list.some((r) => r.startsWith("global"));
    const inEea = !global && list.every((r) => EEA_REGION.test(r));
    return {
      name,
      service: SERVICES[name] ?? name,
      regions: list,
      transfer: global
        ? "processed at the edge location nearest the user, worldwide: a third-country transfer that needs SCCs / the EU-US Data Privacy Framework in the DPA"
        : inEea
          ? "stored in the EEA; the provider is a US company, so access from the US is possible: safeguards (SCCs / EU-US Data Privacy Framework) belong in the DPA"
          : "stored outside the EEA: a third-country transfer that needs SCCs or an adequacy decision",
    };
  }), (s) => s.name);
}

export function buildRopa(stack: string, config: PlatformConfig, resources: AnnotatedResource[]): RopaRecord {
  const compliance = config.compliance;
  const controller = compliance?.controller ?? { name: "(set bloom:compliance.controller)", contact: "(set bloom:compliance.controller.contact)" };
  const dpo = compliance?.dpo?.contact ?? "(none designated: set bloom:compliance.dpo)";
  const subProcessors = subProcessorsOf(resources);
  const recipients = subProcessors.map((s) => `${s.name} (${s.regions.join(", ")})`);
  const transfers = subProcessors.map((s) => `${s.name}: ${s.transfer}`);
  const neon = config.database.neon;
  const security = [
    "row-level security on every tenant table, ENABLEd and FORCEd; tenant set per transaction (runWithTenant)",
    "least privilege: the app's database role holds an explicit allow-list, no BYPASSRLS, no access to platform tables",
    "tenant-scoped composite foreign keys: no row can reference another clinic's row",
    "scoped store credentials: the app reads flags and budgets, writes only rate-limit counters",
    "credentials are Pulumi secrets (encrypted in state), never in logs or on command lines",
    ...(config.database.backend === "neon" ? ["TLS to Neon (it accepts only TLS connections) and to Upstash (HTTPS)"] : ["loopback only on the local stack"]),
    "pre-deploy snapshots and rollback by repointing (availability, Art. 32(1)(c))",
  ];
  const erasureTimeLimits = [
    { what: "pre-deploy snapshot branches", limit: `${config.migrations.snapshotTtlHours} h (bloom:migrations.snapshotTtlHours)` },
    ...(neon ? [{ what: "Neon point-in-time history", limit: `${Math.round(neon.historyRetentionSeconds / 3600)} h (bloom:database.neon.historyRetentionSeconds)` }] : []),
    { what: "rate-limit counters", limit: "expire with their window (bloom:limits)" },
    { what: "rate-limit analytics (identifier, allowed or rejected)", limit: "2 hours after the hour bucket's last write (@bloom/tenant-runtime ANALYTICS_TTL_MS)" },
    { what: "backfill progress (bloom_platform.backfill_progress)", limit: "one row key per table, kept with the schema; no other personal data" },
    { what: "rows of a tenant moved to a dedicated database, in the old location", limit: `${compliance?.purgeGraceDays ?? 7} days grace, then purged (bloom:compliance.purgeGraceDays); the move and purge commands are not built yet (tracked)` },
    ...(config.stagingCopy ? [{ what: `the previous masked copy of ${config.stagingCopy.from} on staging`, limit: `${config.stagingCopy.keepPreviousDays} days after a newer copy is in use (bloom:stagingCopy.keepPreviousDays)` }] : []),
    { what: "a clinic's data after its contract ends", limit: "erased on offboarding, with erasure evidence; the offboarding command is not built yet (tracked), so today this is a manual runbook step" },
  ];
  const forClinics = resources.filter((r) => r.ropa.specialCategories.length > 0);
  const purposes = unique(forClinics.map((r) => r.ropa.purpose));
  return {
    stack,
    environment: config.environment,
    controllerRecord: {
      article: "30(1)",
      controller,
      dpo,
      activities: [
        {
          purpose: "customer accounts: which clinics use Bloom, their tier and isolation (the tenant catalog)",
          dataSubjects: ["clinics (business customers) and their contact persons"],
          dataCategories: ["clinic name", "tier"],
          recipients,
          transfers,
          erasure: "kept while the clinic is a customer; removed at offboarding",
        },
        ...sorted(resources.filter((r) => r.ropa.specialCategories.length === 0), (r) => r.ropa.purpose).map((r) => ({
          purpose: r.ropa.purpose,
          dataSubjects: r.ropa.dataSubjects,
          dataCategories: r.ropa.dataCategories,
          recipients,
          transfers,
          erasure: r.ropa.retention,
        })),
      ],
      security,
    },
    processorRecord: {
      article: "30(2)",
      processor: controller,
      dpo,
      controllers: sorted(config.tenants.map((t) => ({ id: t.id, clinic: t.name, tier: t.tier, isolation: t.isolation, residency: t.residency ?? "(not declared)" })), (c) => c.id),
      processing: purposes.map((purpose) => {
        const rs = forClinics.filter((r) => r.ropa.purpose === purpose);
        const recipients = unique(rs.flatMap((r) => r.ropa.recipients ?? []));
        return {
          purpose,
          dataSubjects: unique(rs.flatMap((r) => r.ropa.dataSubjects)),
          dataCategories: unique(rs.flatMap((r) => r.ropa.dataCategories)),
          specialCategories: unique(rs.flatMap((r) => r.ropa.specialCategories)),
          where: unique(rs.map((r) => `${r.ropa.processor} ${r.ropa.region}`)),
          retention: unique(rs.map((r) => r.ropa.retention)),
          ...(recipients.length ? { recipients } : {}),
        };
      }),
      subProcessors,
      security,
    },
    erasureTimeLimits,
  };
}

const list = (items: string[]) => items.map((i) => `- ${i}`).join("\n");

export function renderRopaMarkdown(r: RopaRecord): string {
  const c = r.controllerRecord;
  const p = r.processorRecord;
  return [
    `# Records of processing activities — stack \`${r.stack}\` (${r.environment})`,
    "",
    "Written by `npm run bloom -- ropa` from the stack's config and the ROPA annotations of its resources; a test",
    "regenerates it and fails when it is stale. Do not edit by hand.",
    "",
    "## Art. 30(1): Bloom as controller",
    "",
    `Controller: ${c.controller.name}, ${c.controller.contact}. Data protection officer: ${c.dpo}.`,
    "",
    ...c.activities.flatMap((a) => [
      `### ${a.purpose}`,
      "",
      `- Data subjects: ${a.dataSubjects.join("; ")}`,
      `- Personal data: ${a.dataCategories.join("; ")}`,
      `- Recipients: ${a.recipients.join("; ") || "none"}`,
      `- Third-country transfers: ${a.transfers.join("; ") || "none"}`,
      `- Erasure: ${a.erasure}`,
      "",
    ]),
    "### Security measures (Art. 32)",
    "",
    list(c.security),
    "",
    "## Art. 30(2): Bloom as processor for the clinics",
    "",
    `Processor: ${p.processor.name}, ${p.processor.contact}. Data protection officer: ${p.dpo}.`,
    "",
    "Controllers (each clinic for its own patients' data):",
    "",
    "| clinic | id | tier | isolation | residency |",
    "|---|---|---|---|---|",
    ...p.controllers.map((x) => `| ${x.clinic} | ${x.id} | ${x.tier} | ${x.isolation} | ${x.residency} |`),
    "",
    ...p.processing.flatMap((x) => [
      `### ${x.purpose}`,
      "",
      `- Data subjects: ${x.dataSubjects.join("; ")}`,
      `- Personal data: ${x.dataCategories.join("; ")}`,
      `- Special categories: ${x.specialCategories.join("; ")}`,
      `- Where: ${x.where.join("; ")}`,
      `- Retention: ${x.retention.join("; ")}`,
      ...(x.recipients ? [`- Recipients: ${x.recipients.join("; ")}`] : []),
      "",
    ]),
    "### Sub-processors and transfers",
    "",
    "| sub-processor | service | regions | transfer |",
    "|---|---|---|---|",
    ...p.subProcessors.map((s) => `| ${s.name} | ${s.service} | ${s.regions.join(", ")} | ${s.transfer} |`),
    ...(p.subProcessors.length ? [] : ["| none | everything stays on this machine | local | none |"]),
    "",
    ...(p.subProcessors.some((x) => /^(AWS|Cloudflare)/.test(x.name)) ? [] : ["AWS (observability) and Cloudflare (edge) join this table when the stack deploys those resources; it does not yet.", ""]),
    "### Security measures (Art. 32)",
    "",
    list(p.security),
    "",
    "## Erasure time limits",
    "",
    "| what | limit |",
    "|---|---|",
    ...r.erasureTimeLimits.map((e) => `| ${e.what} | ${e.limit} |`),
    "",
  ].join("\n");
}

export const renderRopaJson = (r: RopaRecord): string => `${JSON.stringify(r, null, 2)}\n`;
