import * as pulumi from "@pulumi/pulumi";
import type { BackendSettings } from "../../infra";
import type { StoreAccess } from "../../infra/tenancy/modeFromStore";
import { databaseResourceProvider } from "../database/dataPlaneProvider";
import { providerOfKind } from "../database/providerKinds";

/**
 * The database side of the `tenancy_enabled` flag: shadow while it resolves false, enforce once true. The mode is
 * read from the flag store (kill switch included) by the one function that writes it (infra/tenancy/modeFromStore),
 * never taken from config directly: config reaches the store first (FlagStore), and a kill made since is kept.
 * Runs again when the declared value or the migrations change; refresh reads the database's mode back.
 */
// Opened through the database backend like every resource that touches the database, so a local embedded server
// that was stopped is started again before the mode is read or written.
interface ModeInputs { backend: BackendSettings; migratorUrl: string; store: StoreAccess; declaredEnabled: boolean; migrationsHash: string }
interface ModeOutputs { mode: "shadow" | "enforce" }

export const modeProvider = databaseResourceProvider<ModeInputs, ModeOutputs>({
  replaceOn: [],
  async create(dp, _backend, inputs) {
    const { mode } = await dp.applyTenancyModeFromStore(inputs.store, [inputs.migratorUrl]);
    return { id: "tenancy-mode", outs: { mode } };
  },
  async update(dp, _backend, _id, _olds, news) {
    return { mode: (await dp.applyTenancyModeFromStore(news.store, [news.migratorUrl])).mode };
  },
  async delete() {
    // The mode row belongs to the schema; removing this resource leaves the database as it is.
  },
  // The database itself gone (3D000): so is the mode; the next up sets it again on the recreated database.
  async refresh(dp, _backend, _id, props) {
    try {
      return { ...props, mode: await dp.getTenancyMode(props.migratorUrl) };
    } catch (err) {
      if ((err as { code?: string }).code === "3D000") return undefined;
      throw err;
    }
  },
});

export interface TenancyModeArgs {
  backend: pulumi.Input<BackendSettings>;
  migratorUrl: pulumi.Input<string>;
  /** The flag store holding tenancy_enabled (admin access: the platform's token). */
  store: pulumi.Input<StoreAccess>;
  /** bloom:flags.tenancy_enabled.default: a change makes `up` apply the store's value again. */
  declaredEnabled: pulumi.Input<boolean>;
  /** The migrations' content hash: after each deploy the mode is applied again. */
  migrationsHash: pulumi.Input<string>;
}

export class TenancyMode extends pulumi.ComponentResource {
  /** The mode the database was left in by the last `up` (or seen by the last refresh). */
  readonly mode: pulumi.Output<"shadow" | "enforce">;
  constructor(name: string, args: TenancyModeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bloom:tenancy:TenancyMode", name, {}, opts);
    const resource = new TenancyModeResource(`${name}-mode`, {
      backend: pulumi.secret(args.backend),
      migratorUrl: pulumi.secret(args.migratorUrl),
      store: pulumi.secret(args.store),
      declaredEnabled: args.declaredEnabled,
      migrationsHash: args.migrationsHash,
    }, { parent: this });
    this.mode = resource.mode;
    this.registerOutputs({ mode: this.mode });
  }
}

class TenancyModeResource extends pulumi.dynamic.Resource {
  declare readonly mode: pulumi.Output<"shadow" | "enforce">;
  constructor(name: string, args: { [K in keyof ModeInputs]: pulumi.Input<ModeInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("TenancyMode"), name, { mode: undefined, ...args }, opts, "bloom", "TenancyMode");
  }
}
