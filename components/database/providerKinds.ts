import path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { providerReference } from "./dataPlaneProvider";

/**
 * Each dynamic resource kind (`pulumi-nodejs:dynamic/bloom:<kind>`) and the module and export of its provider: what
 * the resource classes hand the engine (providerOfKind), and what `bloom state rewrite-providers` puts back into old
 * state — one table for both.
 */
export const PROVIDER_OF_KIND = {
  DatabaseProject: { module: "components/database/resources.ts", exportName: "projectProvider" },
  DatabaseBranch: { module: "components/database/resources.ts", exportName: "branchProvider" },
  DatabaseRole: { module: "components/database/resources.ts", exportName: "roleProvider" },
  Database: { module: "components/database/resources.ts", exportName: "databaseProvider" },
  AppRole: { module: "components/database/resources.ts", exportName: "appRoleProvider" },
  AppPrivileges: { module: "components/database/resources.ts", exportName: "appPrivilegesProvider" },
  BranchConnection: { module: "components/database/resources.ts", exportName: "branchConnectionProvider" },
  TenantRecord: { module: "components/tenancy/tenantRecord.ts", exportName: "recordProvider" },
  TenancyMode: { module: "components/tenancy/tenancyMode.ts", exportName: "modeProvider" },
  MigrationHook: { module: "components/migrations/migrationHook.ts", exportName: "hookProvider" },
  KvDatabase: { module: "components/kv/kvResources.ts", exportName: "kvDatabaseProvider" },
  FeatureFlag: { module: "components/kv/kvResources.ts", exportName: "flagProvider" },
  TierBudgets: { module: "components/kv/kvResources.ts", exportName: "tierBudgetProvider" },
  TenantBudgets: { module: "components/kv/kvResources.ts", exportName: "tierBudgetProvider" }, // TierBudgets' old name (aliased)
  TenantSettings: { module: "components/kv/kvResources.ts", exportName: "tenantSettingsProvider" },
  KvAppAccess: { module: "components/kv/kvResources.ts", exportName: "appAccessProvider" },
} as const satisfies Record<string, { module: string; exportName: string }>;
export type DynamicKind = keyof typeof PROVIDER_OF_KIND;

const CHECKOUT = path.resolve(__dirname, "..", "..");

/** The provider a resource of `kind` hands the engine: its reference (see providerReference). */
export function providerOfKind(kind: DynamicKind): pulumi.dynamic.ResourceProvider {
  const { module, exportName } = PROVIDER_OF_KIND[kind];
  return providerReference(path.join(CHECKOUT, module), exportName);
}
