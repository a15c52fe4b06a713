import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { regionAllowed, RESIDENCIES, type Residency } from "../../infra/compliance/residency";
import { dynamicType } from "./stackFacts";

export const TENANT_TYPE = "bloom:tenancy:Tenant";

export const tenantResidency: ResourceValidationPolicy = {
  name: "tenant-residency",
  description: "Every tenant declares a residency, and its data lives in a region that residency allows.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== TENANT_TYPE) return;
    const { id, residency, dataRegion } = args.props as { id: string; residency?: Residency; dataRegion: string };
    if (dataRegion === "local") return; // loopback: nothing leaves the machine
    if (!residency || !RESIDENCIES.includes(residency)) {
      reportViolation(`tenant ${id} declares no residency: set residency (${RESIDENCIES.join(", ")}) in bloom:tenants`);
      return;
    }
    if (!regionAllowed(residency, dataRegion)) reportViolation(`tenant ${id} (residency ${residency}) would have its data in ${dataRegion}: move it to a region its residency allows`);
  },
};

export const tenantHasBudget: StackValidationPolicy = {
  name: "tenant-has-budget",
  description: "Every tenant has a rate-limit budget (its own, or its tier's) written by its settings in the store.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const budgets = new Map(args.resources.filter((r) => r.type === dynamicType("TenantSettings"))
      .map((r) => [r.props.tenantId as string, r.props.budget as unknown]));
    for (const t of args.resources.filter((r) => r.type === TENANT_TYPE)) {
      // A stack rule sees a component's outputs (TenantRegistration registers its catalog entry), a resource rule
      // its inputs: the entry's fields are in either place.
      const { id, tier } = ((t.props.entry ?? t.props) as { id: string; tier: string });
      if (!budgets.get(id)) reportViolation(`tenant ${id} has no budget: add bloom:limits.tiers.${tier} or bloom:limits.tenants.${id}`);
    }
  },
};
