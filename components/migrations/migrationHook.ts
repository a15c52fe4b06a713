import * as pulumi from "@pulumi/pulumi";
import type { BackendSettings } from "../../infra";
import { loadMigrations, migrationsContentHash } from "../../infra/migrations/migrationSource";
import { databaseResourceProvider, type WithBackend } from "../database/dataPlaneProvider";
import { providerOfKind } from "../database/providerKinds";
import { preDeploySnapshotRopa, type RopaAnnotation } from "../../infra/compliance/ropaAnnotations";

/** One database the hook migrates. */
export interface MigrationHookTarget {
  name: string;
  projectId: pulumi.Input<string>;
  branchId: pulumi.Input<string>;
  /** Direct (unpooled) migrator connection; advisory locks need a session. */
  migratorUrl: pulumi.Input<string>;
}

export interface MigrationHookArgs {
  backend: pulumi.Input<BackendSettings>;
  /** The app's `prisma/migrations` folder. */
  migrationsDir: string;
  targets: MigrationHookTarget[];
  /** Databases migrated at once. */
  concurrency?: number;
  /** How long the pre-deploy snapshots are kept. */
  snapshotTtlHours?: number;
  /**
   * Set while a rollback is in effect: the hook applies nothing, so the migration that was rolled back is not
   * re-applied to the snapshot the app now uses. Undo the rollback (after fixing the migration) to resume.
   */
  pausedReason?: string;
  /** Region of the targets (ROPA annotation of the snapshots the hook takes); `local` on loopback. */
  region?: pulumi.Input<string>;
}

interface HookInputs extends WithBackend {
  migrationsDir: string;
  migrationsHash: string;
  targets: { name: string; projectId: string; branchId: string; migratorUrl: string }[];
  concurrency: number;
  snapshotTtlHours: number;
  pausedReason?: string;
  ropa: RopaAnnotation;
}
interface HookOutputs { deployId: string; snapshots: Record<string, string>; applied: Record<string, string[]> }

export const hookProvider = databaseResourceProvider<HookInputs, HookOutputs>({
  replaceOn: [],
  async create(dp, backend, inputs) {
    return { id: `migrations-${inputs.targets.map((t) => t.name).join("+")}`, outs: await runHook(dp, backend, inputs) };
  },
  // A run that applied nothing (up to date, or paused) keeps reporting the last deploy that did, with its snapshots.
  async update(dp, backend, _id, olds, news) {
    const run = await runHook(dp, backend, news);
    const appliedAny = Object.values(run.applied).some((names) => names.length > 0);
    return appliedAny ? run : { deployId: olds.deployId, snapshots: olds.snapshots, applied: run.applied };
  },
  async delete() {
    // Destroying the hook does not un-apply migrations; the databases keep their schema.
  },
});

async function runHook(dp: typeof import("../../infra"), backend: import("../../infra").DatabaseBackend, inputs: HookInputs): Promise<HookOutputs> {
  if (inputs.pausedReason) {
    console.log(`migrations paused: ${inputs.pausedReason}`);
    return { deployId: "", snapshots: {}, applied: Object.fromEntries(inputs.targets.map((t) => [t.name, []])) };
  }
  const migrations = dp.loadMigrations(inputs.migrationsDir);
  const hash = dp.migrationsContentHash(migrations);
  if (hash !== inputs.migrationsHash) {
    throw new Error(`the migrations in ${inputs.migrationsDir} changed between preview and update (hash ${hash.slice(0, 12)}… vs ${inputs.migrationsHash.slice(0, 12)}…): run \`pulumi up\` again`);
  }
  const deployId = dp.deployIdFor(hash);
  const outcomes = await dp.deployMigrationsToTargets(inputs.targets, {
    backend,
    migrations,
    deployId,
    concurrency: inputs.concurrency,
    snapshotTtlHours: inputs.snapshotTtlHours,
    log: (line) => console.log(line),
  });
  return {
    deployId,
    snapshots: Object.fromEntries(outcomes.filter((o) => o.snapshot).map((o) => [o.target, o.snapshot!])),
    applied: Object.fromEntries(outcomes.map((o) => [o.target, o.applied])),
  };
}

/**
 * Migrations as a deploy hook: re-runs whenever the migrations' content hash (or the set of targets) changes;
 * lints what is pending, snapshots each target, then applies, with bounded concurrency.
 */
export class MigrationHook extends pulumi.ComponentResource {
  readonly migrationsHash: string;
  readonly deployId: pulumi.Output<string>;
  readonly snapshots: pulumi.Output<Record<string, string>>;
  readonly applied: pulumi.Output<Record<string, string[]>>;

  constructor(name: string, args: MigrationHookArgs, opts?: pulumi.ComponentResourceOptions) {
    // Reading the folder up front turns a wrong path into an error before anything registers.
    const hash = migrationsContentHash(loadMigrations(args.migrationsDir));
    super("bloom:migrations:MigrationHook", name, {}, opts);
    this.migrationsHash = hash;
    const hook = new MigrationHookResource(`${name}-run`, {
      backend: pulumi.secret(args.backend),
      migrationsDir: args.migrationsDir,
      migrationsHash: hash,
      targets: pulumi.secret(args.targets.map((t) => pulumi.output(t))),
      concurrency: args.concurrency ?? 8,
      snapshotTtlHours: args.snapshotTtlHours ?? 168,
      pausedReason: args.pausedReason,
      ropa: pulumi.output(args.region ?? "local").apply((region) => preDeploySnapshotRopa(region || "local", args.snapshotTtlHours ?? 168)),
    }, { parent: this });
    this.deployId = hook.deployId;
    this.snapshots = hook.snapshots;
    this.applied = hook.applied;
    this.registerOutputs({ migrationsHash: hash, deployId: this.deployId, snapshots: this.snapshots, applied: this.applied });
  }
}

type In<T> = { [K in keyof T]: pulumi.Input<T[K]> };

class MigrationHookResource extends pulumi.dynamic.Resource {
  declare readonly deployId: pulumi.Output<string>;
  declare readonly snapshots: pulumi.Output<Record<string, string>>;
  declare readonly applied: pulumi.Output<Record<string, string[]>>;
  constructor(name: string, args: In<HookInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("MigrationHook"), name, { deployId: undefined, snapshots: undefined, applied: undefined, ...args }, opts, "bloom", "MigrationHook");
  }
}
