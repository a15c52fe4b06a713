import * as pulumi from "@pulumi/pulumi";
import type { BackendSettings } from "../../infra";
import { APP_DATABASE, APP_ROLE, MIGRATOR_ROLE, localRoleName } from "../../infra/naming";
import { clinicDatabaseRopa } from "../../infra/compliance/ropaAnnotations";
import { AppRoleResource, BranchConnectionResource, DatabaseProjectResource, DatabaseResource, DatabaseRoleResource } from "./resources";

export interface PoolDatabaseArgs {
  /** How to reach the branching backend; carried as a secret input (it may hold an API key or a server URL). */
  backend: pulumi.Input<BackendSettings>;
  /** Project name, e.g. `bloom-staging` for the pool or `bloom-prod-acme` for a dedicated tenant. */
  projectName: string;
  regionId?: pulumi.Input<string>;
  pgVersion?: pulumi.Input<number>;
  historyRetentionSeconds?: pulumi.Input<number>;
  /** Prod: protect from `pulumi destroy` and keep the data if the resource is ever removed from the program. */
  protectData?: boolean;
  /** The branch the published connections point at: `main`, or a snapshot to roll back to. Default `main`. */
  appBranch?: pulumi.Input<string>;
}

/**
 * A Neon project (or local namespace) with its main branch, the migrator role that owns the schema, the app's
 * database, and an app role that cannot bypass row-level security. Used for the shared pool and for each
 * dedicated tenant. Connection strings are published as secrets only.
 */
export class PoolDatabase extends pulumi.ComponentResource {
  readonly projectId: pulumi.Output<string>;
  readonly mainBranchId: pulumi.Output<string>;
  /** The branch the published connections point at (main, or a snapshot during a rollback). */
  readonly appBranchId: pulumi.Output<string>;
  readonly databaseName: pulumi.Output<string>;
  /** Direct (unpooled) connection for migrations: session advisory locks and DDL need it. */
  readonly migratorUrl: pulumi.Output<string>;
  /** Pooled connection for the app, logged in as the RLS-bound app role. */
  readonly appUrl: pulumi.Output<string>;
  readonly appRoleName: pulumi.Output<string>;

  constructor(name: string, args: PoolDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    if (!args.projectName) throw new pulumi.InputPropertyError({ propertyPath: "projectName", reason: "projectName is required, e.g. bloom-staging" });
    super("bloom:database:PoolDatabase", name, {}, opts);

    const backend = pulumi.secret(args.backend);
    const data: pulumi.CustomResourceOptions = { parent: this, protect: args.protectData, retainOnDelete: args.protectData };

    const project = new DatabaseProjectResource(`${name}-project`, {
      backend,
      name: args.projectName,
      regionId: args.regionId,
      pgVersion: args.pgVersion,
      historyRetentionSeconds: args.historyRetentionSeconds,
    }, data);
    const where = { backend, projectId: project.projectId, branchId: project.defaultBranchId };
    const migrator = new DatabaseRoleResource(`${name}-migrator`, { ...where, name: MIGRATOR_ROLE }, { parent: this });
    const database = new DatabaseResource(`${name}-database`, {
      ...where,
      name: APP_DATABASE,
      ownerRole: migrator.roleName,
      ownerPassword: migrator.password,
      ropa: pulumi.all([args.regionId, args.historyRetentionSeconds]).apply(([region, history]) => clinicDatabaseRopa(region || "local", history)),
    }, data);
    const appRoleName = pulumi.output(args.backend).apply((b) => (b.kind === "local" ? localRoleName(args.projectName, APP_ROLE) : APP_ROLE));
    const appRole = new AppRoleResource(`${name}-app-role`, {
      backend,
      projectId: project.projectId,
      name: appRoleName,
      migratorDirectUri: database.directUri,
      migratorPooledUri: database.pooledUri,
    }, { parent: this });

    // Rollback by repointing: the same roles, on whichever branch bloom:appBranch names.
    const connection = new BranchConnectionResource(`${name}-app-connection`, {
      backend,
      projectId: project.projectId,
      branchName: args.appBranch ?? "main",
      database: database.databaseName,
      migratorRole: migrator.roleName,
      migratorPassword: migrator.password,
      appRole: appRole.roleName,
      appPassword: appRole.password,
    }, { parent: this });

    this.projectId = project.projectId;
    this.mainBranchId = project.defaultBranchId;
    this.appBranchId = connection.branchId;
    this.databaseName = database.databaseName;
    this.migratorUrl = pulumi.secret(connection.migratorDirectUri);
    this.appUrl = pulumi.secret(connection.appPooledUri);
    this.appRoleName = appRole.roleName;
    this.registerOutputs({
      projectId: this.projectId,
      mainBranchId: this.mainBranchId,
      appBranchId: this.appBranchId,
      databaseName: this.databaseName,
      migratorUrl: this.migratorUrl,
      appUrl: this.appUrl,
      appRoleName: this.appRoleName,
    });
  }
}
