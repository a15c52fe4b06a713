import { describe, expect, it } from "vitest";
import { readStackConfig } from "../infra/config/stackFile";
import { clinicDatabaseRopa, personalDataTags, requestLogRopa } from "../infra/compliance/ropaAnnotations";
import { SECURITY_HEADERS } from "../infra/edge/edgeRules";
import { cspScriptSrc, enterpriseTenantsHaveAlarms, securityHeaders } from "./rules/edgeAndAlarms";
import { runPlatformUnderMocks } from "../test/platformUnderMocks";
import { prodDataProtected, prodHistoryRetention, snapshotTtlSet } from "./rules/dataProtection";
import { ropaAnnotated } from "./rules/ropa";
import { prodDataOnlyAnonymised } from "./rules/stagingCopy";
import { TENANT_TYPE, tenantHasBudget, tenantResidency } from "./rules/tenants";
import { resourcePolicies, stackPolicies } from "./rules";
import { stackViolationsOf, subjectsOf, violationsOf, type PolicySubject } from "./policyHarness";

const dyn = (t: string) => `pulumi-nodejs:dynamic/bloom:${t}`;
const at = (stack: string, type: string, name: string, props: Record<string, unknown>, protect = false): PolicySubject =>
  ({ type, name, urn: `urn:pulumi:${stack}::bloom-platform::${type}::${name}`, props, protect });

describe("policy rules: one passing and one failing case each", () => {
  it("prod-data-protected", async () => {
    expect(await violationsOf(prodDataProtected, at("prod", dyn("Database"), "pool-database", {}, true))).toEqual([]);
    expect(await violationsOf(prodDataProtected, at("staging", dyn("Database"), "pool-database", {}, false))).toEqual([]);
    expect(await violationsOf(prodDataProtected, at("prod-acme", dyn("DatabaseProject"), "tenant-acme-project", {}, false))).toEqual([expect.stringMatching(/holds prod data and is not protected/)]);
  });

  it("prod-history-retention", async () => {
    const project = (seconds: number) => at("prod", dyn("DatabaseProject"), "pool-project", { backend: { kind: "neon", apiKey: "k" }, historyRetentionSeconds: seconds });
    expect(await violationsOf(prodHistoryRetention, project(604800))).toEqual([]);
    expect(await violationsOf(prodHistoryRetention, project(86400))).toEqual([expect.stringMatching(/86400 s of history; prod needs >= 604800/)]);
  });

  it("snapshot-ttl-set (advisory)", async () => {
    expect(snapshotTtlSet.enforcementLevel).toBe("advisory");
    expect(await violationsOf(snapshotTtlSet, at("staging", dyn("DatabaseBranch"), "snap", { name: "snap", expiresAt: "2026-12-01T00:00:00Z" }))).toEqual([]);
    expect(await violationsOf(snapshotTtlSet, at("staging", dyn("DatabaseBranch"), "snap", { name: "snap" }))).toEqual([expect.stringMatching(/never expires/)]);
  });

  it("tenant-residency", async () => {
    const tenant = (residency: string | undefined, dataRegion: string) => at("staging", TENANT_TYPE, "tenant-acme", { id: "acme", residency, dataRegion });
    expect(await violationsOf(tenantResidency, tenant("eu", "aws-eu-central-1"))).toEqual([]);
    expect(await violationsOf(tenantResidency, tenant(undefined, "local"))).toEqual([]);
    expect(await violationsOf(tenantResidency, tenant("eu", "aws-us-east-2"))).toEqual([expect.stringMatching(/residency eu\) would have its data in aws-us-east-2/)]);
    expect(await violationsOf(tenantResidency, tenant(undefined, "aws-eu-central-1"))).toEqual([expect.stringMatching(/declares no residency/)]);
  });

  it("tenant-has-budget", async () => {
    const tenant = at("staging", TENANT_TYPE, "tenant-acme", { id: "acme", tier: "enterprise" });
    const settings = (budget?: object) => at("staging", dyn("TenantSettings"), "tenant-acme-settings", { tenantId: "acme", budget, flags: {} });
    expect(await stackViolationsOf(tenantHasBudget, [tenant, settings({ requests: 1, window: "1 m" })])).toEqual([]);
    expect(await stackViolationsOf(tenantHasBudget, [tenant, settings(undefined)])).toEqual([expect.stringMatching(/tenant acme has no budget/)]);
    expect(await stackViolationsOf(tenantHasBudget, [tenant])).toEqual([expect.stringMatching(/tenant acme has no budget/)]);
    // Under the engine a stack rule sees a component's outputs: the registered catalog entry.
    expect(await stackViolationsOf(tenantHasBudget, [at("staging", TENANT_TYPE, "tenant-acme", { entry: { id: "acme", tier: "standard" } }), settings(undefined)]))
      .toEqual([expect.stringMatching(/tenant acme has no budget/)]);
  });

  it("ropa-annotations", async () => {
    expect(await violationsOf(ropaAnnotated, at("staging", dyn("Database"), "pool-database", { ropa: clinicDatabaseRopa("aws-eu-central-1") }))).toEqual([]);
    expect(await violationsOf(ropaAnnotated, at("staging", dyn("KvDatabase"), "flags-database", { ropa: { purpose: "x", dataCategories: [], region: "eu" } })))
      .toEqual([expect.stringMatching(/lacks dataCategories, retention/)]);
  });
});

describe("prod-data-only-anonymised", () => {
  const copy = (stack: string, props: Record<string, unknown>) => at(stack, "bloom:staging:StagingCopy", "staging-copy", { sourceStack: "prod", via: "anonymized-branch", maskedColumns: ["patient.email:email"], ...props });
  it("passes an anonymized branch or a masked copy of prod on staging; fails a plain copy, one with nothing masked, and any copy into prod", async () => {
    expect(await violationsOf(prodDataOnlyAnonymised, copy("staging", {}))).toEqual([]);
    expect(await violationsOf(prodDataOnlyAnonymised, copy("staging", { via: "masked-copy" }))).toEqual([]);
    expect(await violationsOf(prodDataOnlyAnonymised, copy("staging", { via: "branch" }))).toEqual([expect.stringMatching(/copies prod's data via "branch": only anonymized-branch or masked-copy/)]);
    expect(await violationsOf(prodDataOnlyAnonymised, copy("staging", { maskedColumns: [] }))).toEqual([expect.stringMatching(/with no masked column/)]);
    expect(await violationsOf(prodDataOnlyAnonymised, copy("prod", {}))).toEqual([expect.stringMatching(/prod is never the target of a copy/)]);
    // A copy of another non-prod stack is not prod data.
    expect(await violationsOf(prodDataOnlyAnonymised, copy("dev", { sourceStack: "staging", via: "branch" }))).toEqual([]);
  });
});

describe("edge and alarm rules: passing and failing cases", () => {
  const headers = (set: Record<string, string>) => at("staging", "cloudflare:index/ruleset:Ruleset", "edge-security-headers", {
    phase: "http_response_headers_transform",
    rules: [{ actionParameters: { headers: Object.fromEntries(Object.entries(set).map(([k, value]) => [k, { operation: "set", value }])) } }],
  });

  it("security-headers", async () => {
    expect(await violationsOf(securityHeaders, headers(SECURITY_HEADERS))).toEqual([]);
    const weak = { ...SECURITY_HEADERS, "X-Frame-Options": "SAMEORIGIN" } as Record<string, string>;
    delete weak["Referrer-Policy"];
    expect(await violationsOf(securityHeaders, headers(weak))).toEqual([expect.stringMatching(/X-Frame-Options is "SAMEORIGIN"/), expect.stringMatching(/Referrer-Policy is not set/)]);
  });

  it("csp-script-src", async () => {
    expect(await violationsOf(cspScriptSrc, headers(SECURITY_HEADERS))).toEqual([]);
    expect(await violationsOf(cspScriptSrc, headers({ ...SECURITY_HEADERS, "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval' *" })))
      .toEqual([expect.stringMatching(/allows \*/), expect.stringMatching(/allows 'unsafe-eval'/)]);
  });

  it("enterprise-tenants-have-alarms", async () => {
    const tenant = at("staging", TENANT_TYPE, "tenant-acme", { id: "acme", tier: "enterprise" });
    expect(await stackViolationsOf(enterpriseTenantsHaveAlarms, [tenant, at("staging", "bloom:observability:Observability", "observability", { sloTenants: ["acme"] })])).toEqual([]);
    expect(await stackViolationsOf(enterpriseTenantsHaveAlarms, [tenant, at("staging", "bloom:observability:Observability", "observability", { sloTenants: [] })])).toEqual([expect.stringMatching(/acme has no SLO alarms/)]);
    expect(await stackViolationsOf(enterpriseTenantsHaveAlarms, [tenant])).toEqual([expect.stringMatching(/no observability/)]);
    // On loopback there is no cloud to alarm in (the local stack, e2e).
    expect(await stackViolationsOf(enterpriseTenantsHaveAlarms, [at("local", TENANT_TYPE, "tenant-acme", { entry: { id: "acme", tier: "enterprise" }, dataRegion: "local" })])).toEqual([]);
  });

  it("ropa-annotations: the Observability component carries the request logs' annotation; their CloudFormation stack is tagged", async () => {
    const stackWithLogs = (tags: Record<string, string>) => at("staging", "aws:cloudformation/stack:Stack", "bloom-staging-observability", { templateBody: '{"Resources":{"l":{"Type":"AWS::Logs::LogGroup"}}}', tags });
    expect(await violationsOf(ropaAnnotated, stackWithLogs(personalDataTags("staging")))).toEqual([]);
    expect(await violationsOf(ropaAnnotated, stackWithLogs({}))).toEqual([expect.stringMatching(/holds log groups but no bloom:personal-data tag/)]);
    const component = (ropa?: unknown) => at("staging", "bloom:observability:Observability", "observability", { sloTenants: [], ropa });
    expect(await violationsOf(ropaAnnotated, component(requestLogRopa("eu-central-1", 30)))).toEqual([]);
    expect(await violationsOf(ropaAnnotated, component())).toEqual([expect.stringMatching(/lacks purpose, dataCategories, retention, region/)]);
  });
});

describe("every rule over what the committed stacks register (mocks)", () => {
  for (const stack of ["staging", "prod", "local"]) {
    it(`${stack}: no mandatory violation`, async () => {
      const { registered, failure } = await runPlatformUnderMocks(stack, readStackConfig(stack));
      expect(failure).toBeUndefined();
      const subjects = await subjectsOf(stack, registered);
      const found: string[] = [];
      for (const policy of resourcePolicies.filter((p) => p.enforcementLevel === "mandatory")) for (const s of subjects) found.push(...(await violationsOf(policy, s)));
      for (const policy of stackPolicies) found.push(...(await stackViolationsOf(policy, subjects)));
      expect(found).toEqual([]);
      // The rules had something to look at: tenants, personal-data resources, and (on prod) protected data.
      expect(subjects.filter((s) => s.type === TENANT_TYPE).length).toBeGreaterThan(0);
      expect(subjects.filter((s) => s.props.ropa).length).toBeGreaterThanOrEqual(3);
      if (stack === "staging") expect(subjects.filter((s) => s.type === "bloom:staging:StagingCopy").map((s) => s.props.via)).toEqual(["anonymized-branch"]);
    });
  }

  it("prod with a day of history, or a tenant outside its residency: the validator refuses the config before anything registers, and the pack refuses such resources with the rule's message", async () => {
    const base = readStackConfig("prod");
    const db = JSON.parse(base["bloom:database"]!);
    db.neon.historyRetentionSeconds = 86400;
    const tenants = JSON.parse(base["bloom:tenants"]!);
    tenants[2] = { ...tenants[2], region: "aws-us-east-2" };
    const refused = await runPlatformUnderMocks("prod", { ...base, "bloom:database": JSON.stringify(db), "bloom:tenants": JSON.stringify(tenants) });
    expect(refused.registered).toEqual([]);
    expect(String(refused.failure)).toMatch(/bloom:database\.neon\.historyRetentionSeconds: is 86400/);
    expect(String(refused.failure)).toMatch(/bloom:tenants\[2\]\.region: is aws-us-east-2, which residency "eu" does not allow/);
    // The pack still decides at `up` (a program that skipped the validator): what a valid prod registers, with the
    // same two facts changed.
    const { registered } = await runPlatformUnderMocks("prod", base);
    const subjects = (await subjectsOf("prod", registered)).map((s) =>
      s.type === dyn("DatabaseProject") ? { ...s, props: { ...s.props, historyRetentionSeconds: 86400 } }
        : s.type === TENANT_TYPE && s.props.id === tenants[2].id ? { ...s, props: { ...s.props, dataRegion: "aws-us-east-2" } } : s);
    const found: string[] = [];
    for (const s of subjects) for (const p of [prodHistoryRetention, tenantResidency]) found.push(...(await violationsOf(p, s)));
    expect(found).toEqual([expect.stringMatching(/86400 s of history/), expect.stringMatching(/residency eu\) would have its data in aws-us-east-2/)]);
  });
});
