import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { SECURITY_HEADERS } from "../../infra/edge/edgeRules";
import { TENANT_TYPE } from "./tenants";

const RULESET = "cloudflare:index/ruleset:Ruleset";
const OBSERVABILITY = "bloom:observability:Observability";

type HeaderRule = { actionParameters?: { headers?: Record<string, { operation?: string; value?: string }> } };

function headersOf(props: Record<string, unknown>): Record<string, { operation?: string; value?: string }> {
  return Object.assign({}, ...((props.rules as HeaderRule[] | undefined) ?? []).map((r) => r.actionParameters?.headers ?? {}));
}

export const securityHeaders: ResourceValidationPolicy = {
  name: "security-headers",
  description: "The zone's response-header ruleset sets exactly the playbook's five security headers, with its values.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== RULESET || args.props.phase !== "http_response_headers_transform") return;
    const set = headersOf(args.props);
    for (const [header, value] of Object.entries(SECURITY_HEADERS)) {
      const got = set[header];
      if (!got) reportViolation(`${header} is not set: add it with the playbook's value "${value}"`);
      else if (got.operation !== "set" || got.value !== value) reportViolation(`${header} is "${got.value}" (${got.operation}); the playbook's value is "${value}"`);
    }
    for (const header of Object.keys(set)) if (!(header in SECURITY_HEADERS)) reportViolation(`${header} is set too: the ruleset holds exactly the five security headers (put others in their own rule)`);
  },
};

export const cspScriptSrc: ResourceValidationPolicy = {
  name: "csp-script-src",
  description: "The Content-Security-Policy's script-src allows neither * nor 'unsafe-eval'.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== RULESET || args.props.phase !== "http_response_headers_transform") return;
    const csp = headersOf(args.props)["Content-Security-Policy"]?.value;
    if (!csp) return; // security-headers reports the missing header
    const scriptSrc = csp.split(";").map((d) => d.trim()).find((d) => d.startsWith("script-src"));
    const sources = scriptSrc?.split(/\s+/).slice(1) ?? [];
    for (const bad of ["*", "'unsafe-eval'"]) if (sources.includes(bad)) reportViolation(`Content-Security-Policy script-src allows ${bad}: remove it`);
  },
};

export const enterpriseTenantsHaveAlarms: StackValidationPolicy = {
  name: "enterprise-tenants-have-alarms",
  description: "Every enterprise tenant has its own SLO alarms (off the local stack).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const tenants = args.resources.filter((r) => r.type === TENANT_TYPE).map((r) => ({ ...(r.props.entry ?? {}), ...r.props }) as { id: string; tier: string; dataRegion?: string });
    // On loopback (the local stack, e2e) there is no cloud to alarm in.
    const enterprise = tenants.filter((t) => t.tier === "enterprise" && t.dataRegion !== "local");
    if (!enterprise.length) return;
    const observability = args.resources.find((r) => r.type === OBSERVABILITY);
    if (!observability) {
      reportViolation(`${enterprise.length} enterprise tenant(s) and no observability: set bloom:observability`);
      return;
    }
    const covered = new Set((observability.props.sloTenants ?? []) as string[]);
    for (const t of enterprise) if (!covered.has(t.id)) reportViolation(`enterprise tenant ${t.id} has no SLO alarms`);
  },
};
