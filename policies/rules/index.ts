import { prodDataProtected, prodHistoryRetention, snapshotTtlSet } from "./dataProtection";
import { ropaAnnotated } from "./ropa";
import { prodDataOnlyAnonymised } from "./stagingCopy";
import { tenantHasBudget, tenantResidency } from "./tenants";
import { cspScriptSrc, enterpriseTenantsHaveAlarms, securityHeaders } from "./edgeAndAlarms";

/** Every rule of the pack, side-effect free (the PolicyPack itself is built only in ../index.ts). */
export const resourcePolicies = [prodDataProtected, prodHistoryRetention, snapshotTtlSet, tenantResidency, ropaAnnotated, securityHeaders, cspScriptSrc, prodDataOnlyAnonymised];
export const stackPolicies = [tenantHasBudget, enterpriseTenantsHaveAlarms];
