import * as pulumi from "@pulumi/pulumi";
import type { BackendSettings } from "../../infra";
import { databaseResourceProvider } from "./dataPlaneProvider";
import { providerOfKind } from "./providerKinds";
import type { RopaAnnotation } from "../../infra/compliance/ropaAnnotations";

/**
 * The dynamic resources over the database seam. Each is a thin spec: which inputs replace, how to create and delete.
 * Secrets (passwords, URIs) leave the provider through `additionalSecretOutputs`.
 */
type In<T> = { [K in keyof T]: pulumi.Input<T[K]> };

interface ProjectInputs { backend: BackendSettings; name: string; regionId?: string; pgVersion?: number; historyRetentionSeconds?: number }
interface ProjectOutputs { projectId: string; defaultBranchId: string }

export const projectProvider = databaseResourceProvider<ProjectInputs, ProjectOutputs>({
  replaceOn: ["name", "regionId", "pgVersion"],
  async create(_dp, backend, inputs) {
    const ref = await backend.ensureProject(inputs);
    return { id: ref.projectId, outs: { projectId: ref.projectId, defaultBranchId: ref.defaultBranchId } };
  },
  async update(_dp, backend, id, olds, news) {
    await backend.configureProject(id, news);
    return { projectId: olds.projectId, defaultBranchId: olds.defaultBranchId };
  },
  async delete(_dp, backend, id) {
    await backend.deleteProject(id);
  },
  async refresh(_dp, backend, id, props) {
    return (await backend.getBranch(id, props.defaultBranchId)) ? props : undefined;
  },
});

export class DatabaseProjectResource extends pulumi.dynamic.Resource {
  declare readonly projectId: pulumi.Output<string>;
  declare readonly defaultBranchId: pulumi.Output<string>;
  constructor(name: string, args: In<ProjectInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("DatabaseProject"), name, { projectId: undefined, defaultBranchId: undefined, ...args }, opts, "bloom", "DatabaseProject");
  }
}

interface BranchInputs { backend: BackendSettings; projectId: string; name: string; parentBranchId?: string; at?: string; expiresAt?: string; ropa?: RopaAnnotation }
interface BranchOutputs { branchId: string; createdAt: string }

export const branchProvider = databaseResourceProvider<BranchInputs, BranchOutputs>({
  replaceOn: ["projectId", "name", "parentBranchId", "at"],
  // Re-creating a snapshot to move its expiry would copy today's data under an old name: never do that.
  createOnly: ["expiresAt"],
  async create(_dp, backend, inputs) {
    const ref = await backend.ensureBranch(inputs);
    return { id: ref.branchId, outs: { branchId: ref.branchId, createdAt: ref.createdAt } };
  },
  async delete(_dp, backend, id, props) {
    await backend.deleteBranch(props.projectId, id);
  },
  async refresh(_dp, backend, id, props) {
    return (await backend.getBranch(props.projectId, id)) ? props : undefined;
  },
});

export class DatabaseBranchResource extends pulumi.dynamic.Resource {
  declare readonly branchId: pulumi.Output<string>;
  declare readonly createdAt: pulumi.Output<string>;
  constructor(name: string, args: In<BranchInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("DatabaseBranch"), name, { branchId: undefined, createdAt: undefined, ...args }, opts, "bloom", "DatabaseBranch");
  }
}

interface RoleInputs { backend: BackendSettings; projectId: string; branchId: string; name: string }
interface RoleOutputs { roleName: string; password: string }

export const roleProvider = databaseResourceProvider<RoleInputs, RoleOutputs>({
  replaceOn: ["projectId", "branchId", "name"],
  async create(_dp, backend, inputs) {
    const role = await backend.ensureRole(inputs.projectId, inputs.branchId, inputs.name);
    return { id: `${inputs.projectId}/${inputs.branchId}/${role.name}`, outs: { roleName: role.name, password: role.password } };
  },
  async delete(_dp, backend, _id, props) {
    await backend.deleteRole(props.projectId, props.branchId, props.name);
  },
});

export class DatabaseRoleResource extends pulumi.dynamic.Resource {
  declare readonly roleName: pulumi.Output<string>;
  declare readonly password: pulumi.Output<string>;
  constructor(name: string, args: In<RoleInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("DatabaseRole"), name, { roleName: undefined, password: undefined, ...args }, { ...opts, additionalSecretOutputs: ["password"] }, "bloom", "DatabaseRole");
  }
}

interface DatabaseInputs { backend: BackendSettings; projectId: string; branchId: string; name: string; ownerRole: string; ownerPassword: string; ropa?: RopaAnnotation }
interface DatabaseOutputs { databaseName: string; directUri: string; pooledUri: string }

async function ownerUris(backend: import("../../infra").DatabaseBackend, i: DatabaseInputs): Promise<DatabaseOutputs> {
  const base = { projectId: i.projectId, branchId: i.branchId, database: i.name, role: i.ownerRole, password: i.ownerPassword };
  return {
    databaseName: i.name,
    directUri: await backend.connectionUri({ ...base, pooled: false }),
    pooledUri: await backend.connectionUri({ ...base, pooled: true }),
  };
}

export const databaseProvider = databaseResourceProvider<DatabaseInputs, DatabaseOutputs>({
  replaceOn: ["projectId", "branchId", "name"],
  async create(_dp, backend, inputs) {
    await backend.ensureDatabase(inputs.projectId, inputs.branchId, inputs.name, inputs.ownerRole);
    return { id: `${inputs.projectId}/${inputs.branchId}/${inputs.name}`, outs: await ownerUris(backend, inputs) };
  },
  async update(_dp, backend, _id, _olds, news) {
    await backend.ensureDatabase(news.projectId, news.branchId, news.name, news.ownerRole);
    return ownerUris(backend, news);
  },
  async delete(_dp, backend, _id, props) {
    await backend.deleteDatabase(props.projectId, props.branchId, props.name);
  },
});

export class DatabaseResource extends pulumi.dynamic.Resource {
  declare readonly databaseName: pulumi.Output<string>;
  declare readonly directUri: pulumi.Output<string>;
  declare readonly pooledUri: pulumi.Output<string>;
  constructor(name: string, args: In<DatabaseInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("Database"), name, { databaseName: undefined, directUri: undefined, pooledUri: undefined, ...args },
      { ...opts, additionalSecretOutputs: ["directUri", "pooledUri"] }, "bloom", "Database");
  }
}

interface AppRoleInputs { backend: BackendSettings; projectId: string; name: string; migratorDirectUri: string; migratorPooledUri: string }
interface AppRoleOutputs { roleName: string; password: string; directUri: string; pooledUri: string }

export const appRoleProvider = databaseResourceProvider<AppRoleInputs, AppRoleOutputs>({
  replaceOn: ["name"],
  async create(dp, _backend, inputs) {
    const role = await dp.ensureAppRole(inputs.migratorDirectUri, inputs.name);
    return { id: role.name, outs: appRoleOutputs(dp, inputs, role.password) };
  },
  // Runs on any input or provider-code change: re-assert the role through the current migrator URIs, keeping the
  // password so running app instances are not cut off.
  async update(dp, _backend, _id, olds, news) {
    const role = await dp.ensureAppRole(news.migratorDirectUri, news.name, olds.password);
    return appRoleOutputs(dp, news, role.password);
  },
  async delete(_dp, backend, id, props) {
    await backend.dropSqlRole(props.projectId, id, props.migratorDirectUri);
  },
  // The app can change its own role (settings, password: issue 22); the next `up` owns it again.
  async drifted(dp, _backend, id, olds) {
    if (!olds.pooledUri || !olds.migratorDirectUri) return undefined;
    const drift = await dp.appRoleDrift(olds.migratorDirectUri, id, olds.pooledUri);
    return drift.length ? `app role ${id} drifted (${drift.map((d) => d.kind).join(", ")})` : undefined;
  },
});

function appRoleOutputs(dp: typeof import("../../infra"), i: AppRoleInputs, password: string): AppRoleOutputs {
  return {
    roleName: i.name,
    password,
    directUri: dp.withCredentials(i.migratorDirectUri, i.name, password),
    pooledUri: dp.withCredentials(i.migratorPooledUri, i.name, password),
  };
}

export class AppRoleResource extends pulumi.dynamic.Resource {
  declare readonly roleName: pulumi.Output<string>;
  declare readonly password: pulumi.Output<string>;
  declare readonly directUri: pulumi.Output<string>;
  declare readonly pooledUri: pulumi.Output<string>;
  constructor(name: string, args: In<AppRoleInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("AppRole"), name, { roleName: undefined, password: undefined, directUri: undefined, pooledUri: undefined, ...args },
      { ...opts, additionalSecretOutputs: ["password", "directUri", "pooledUri"] }, "bloom", "AppRole");
  }
}

interface AppPrivilegesInputs { backend: BackendSettings; migratorUrl: string; roleName: string; migrationsHash: string }

/**
 * The app role's allow-list applied again after migrations (infra/database/sql/appPrivileges.ts): new tables get
 * nothing by default, so a tenant table a migration adds is granted here, and anything else stays closed.
 */
export const appPrivilegesProvider = databaseResourceProvider<AppPrivilegesInputs, object>({
  replaceOn: [],
  async create(dp, _backend, inputs) {
    await dp.applyAppPrivilegesAt(inputs.migratorUrl, inputs.roleName);
    return { id: `${inputs.roleName}/privileges`, outs: {} };
  },
  async update(dp, _backend, _id, _olds, news) {
    await dp.applyAppPrivilegesAt(news.migratorUrl, news.roleName);
    return {};
  },
  async delete() {
    // The grants go with the role (AppRole's delete drops it).
  },
});

export class AppPrivilegesResource extends pulumi.dynamic.Resource {
  constructor(name: string, args: In<AppPrivilegesInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("AppPrivileges"), name, args, opts, "bloom", "AppPrivileges");
  }
}

interface BranchConnectionInputs {
  backend: BackendSettings;
  projectId: string;
  /** Branch name the app is pointed at: `main`, or a snapshot during a rollback. */
  branchName: string;
  database: string;
  migratorRole: string;
  migratorPassword: string;
  appRole: string;
  appPassword: string;
}
interface BranchConnectionOutputs { branchId: string; migratorDirectUri: string; appPooledUri: string; appDirectUri: string }

/** Resolves the app's branch by name and publishes connections to it: repointing is an update, never a replace. */
async function branchConnection(backend: import("../../infra").DatabaseBackend, i: BranchConnectionInputs): Promise<BranchConnectionOutputs> {
  const branch = (await backend.listBranches(i.projectId)).find((b) => b.name === i.branchName);
  if (!branch) {
    throw new Error(`bloom:appBranch names branch "${i.branchName}", which does not exist in project ${i.projectId}: list snapshots with \`npm run bloom -- snapshot list\``);
  }
  const at = { projectId: i.projectId, branchId: branch.branchId, database: i.database };
  return {
    branchId: branch.branchId,
    migratorDirectUri: await backend.connectionUri({ ...at, role: i.migratorRole, password: i.migratorPassword, pooled: false }),
    appPooledUri: await backend.connectionUri({ ...at, role: i.appRole, password: i.appPassword, pooled: true }),
    appDirectUri: await backend.connectionUri({ ...at, role: i.appRole, password: i.appPassword, pooled: false }),
  };
}

export const branchConnectionProvider = databaseResourceProvider<BranchConnectionInputs, BranchConnectionOutputs>({
  replaceOn: [],
  async create(_dp, backend, inputs) {
    const outs = await branchConnection(backend, inputs);
    return { id: `${inputs.projectId}/${inputs.database}/app-connection`, outs };
  },
  async update(_dp, backend, _id, _olds, news) {
    return branchConnection(backend, news);
  },
  async delete() {
    // Publishing a connection creates nothing on the server.
  },
});

export class BranchConnectionResource extends pulumi.dynamic.Resource {
  declare readonly branchId: pulumi.Output<string>;
  declare readonly migratorDirectUri: pulumi.Output<string>;
  declare readonly appPooledUri: pulumi.Output<string>;
  declare readonly appDirectUri: pulumi.Output<string>;
  constructor(name: string, args: In<BranchConnectionInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("BranchConnection"), name, { branchId: undefined, migratorDirectUri: undefined, appPooledUri: undefined, appDirectUri: undefined, ...args },
      { ...opts, additionalSecretOutputs: ["migratorDirectUri", "appPooledUri", "appDirectUri"] }, "bloom", "BranchConnection");
  }
}
