import * as pulumi from "@pulumi/pulumi";
import { AppPrivilegesResource } from "../database/resources";
import { TenancyMode, type TenancyModeArgs } from "./tenancyMode";

export interface TenantBoundaryArgs extends TenancyModeArgs {
  /** The app role whose privileges are the allow-list (re-applied after every deploy of the migrations). */
  appRoleName: pulumi.Input<string>;
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
    const mode = new TenancyMode(`${name}-tenancy`, { backend, migratorUrl, store: args.store, declaredEnabled: args.declaredEnabled, migrationsHash: args.migrationsHash }, { parent: this, dependsOn: [privileges] });
    this.mode = mode.mode;
    this.registerOutputs({ mode: this.mode });
  }
}
