import * as pulumi from "@pulumi/pulumi";
import type { BackendSettings } from "../../infra";
import type { StoreAccess } from "../../infra/tenancy/modeFromStore";
import { AppPrivilegesResource } from "../database/resources";
import { TenancyMode } from "./tenancyMode";

export interface TenantBoundaryArgs {
  backend: pulumi.Input<BackendSettings>;
  migratorUrl: pulumi.Input<string>;
  appRoleName: pulumi.Input<string>;
  /** Re-applied after every deploy of these migrations. */
  migrationsHash: pulumi.Input<string>;
  /** The flag store that holds tenancy_enabled (the platform's admin access). */
  store: pulumi.Input<StoreAccess>;
  declaredTenancyEnabled: pulumi.Input<boolean>;
}

/**
 * What makes a migrated database safe to hand to the app (pool and each dedicated tenant alike): the app role's
 * privilege allow-list, and the RLS mode as the flag store resolves tenancy_enabled. Register it after the
 * database's migration hook.
 */
export class TenantBoundary extends pulumi.ComponentResource {
  readonly mode: pulumi.Output<"shadow" | "enforce">;
  constructor(name: string, args: TenantBoundaryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bloom:tenancy:TenantBoundary", name, {}, opts);
    const backend = pulumi.secret(args.backend);
    const migratorUrl = pulumi.secret(args.migratorUrl);
    const privileges = new AppPrivilegesResource(`${name}-app-privileges`, { backend, migratorUrl, roleName: args.appRoleName, migrationsHash: args.migrationsHash }, { parent: this });
    const mode = new TenancyMode(`${name}-tenancy`, { backend, migratorUrl, store: args.store, declaredEnabled: args.declaredTenancyEnabled, migrationsHash: args.migrationsHash }, { parent: this, dependsOn: [privileges] });
    this.mode = mode.mode;
    this.registerOutputs({ mode: this.mode });
  }
}
