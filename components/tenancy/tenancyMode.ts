import * as pulumi from "@pulumi/pulumi";
import type { BackendSettings } from "../../infra";
import { databaseResourceProvider } from "../database/dataPlaneProvider";

/**
 * The database side of the `tenancy_enabled` flag: shadow while it is off, enforce once it is on (one row the
 * migrator owns; see infra/tenancy/rlsModes.ts). Refresh reads the mode back, so a switch made by hand shows as drift.
 */
// Opened through the database backend like every resource that touches the database, so a local embedded server
// that was stopped is started again before the mode is read or written.
interface ModeInputs { backend: BackendSettings; migratorUrl: string; mode: "shadow" | "enforce" }

const modeProvider = databaseResourceProvider<ModeInputs, object>({
  replaceOn: [],
  async create(dp, _backend, inputs) {
    await dp.setTenancyMode(inputs.migratorUrl, inputs.mode);
    return { id: "tenancy-mode", outs: {} };
  },
  async update(dp, _backend, _id, _olds, news) {
    await dp.setTenancyMode(news.migratorUrl, news.mode);
    return {};
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
  tenancyEnabled: boolean;
}

export class TenancyMode extends pulumi.ComponentResource {
  readonly mode: "shadow" | "enforce";
  constructor(name: string, args: TenancyModeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bloom:tenancy:TenancyMode", name, {}, opts);
    this.mode = args.tenancyEnabled ? "enforce" : "shadow";
    new TenancyModeResource(`${name}-mode`, { backend: pulumi.secret(args.backend), migratorUrl: pulumi.secret(args.migratorUrl), mode: this.mode }, { parent: this });
    this.registerOutputs({ mode: this.mode });
  }
}

class TenancyModeResource extends pulumi.dynamic.Resource {
  constructor(name: string, args: { [K in keyof ModeInputs]: pulumi.Input<ModeInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(modeProvider, name, args, opts, "bloom", "TenancyMode");
  }
}
