import * as pulumi from "@pulumi/pulumi";
import type { BackendSettings } from "../../infra";
import type { TenantRecord } from "../../infra/tenancy/tenantCatalog";
import { databaseResourceProvider } from "../database/dataPlaneProvider";
import { providerOfKind } from "../database/providerKinds";

/**
 * A tenant's rows in the platform's catalog and its clinic row (infra/tenancy/tenantCatalog.ts), written by the
 * migrator. Deleting it (the tenant left bloom:tenants) is refused while the tenant still holds data — when the
 * engine reaches the deletion, so other changes of the same run may already be applied.
 */
interface RecordInputs {
  backend: BackendSettings;
  migratorUrl: string;
  tenant: TenantRecord;
  /** `catalog`: the pool's catalog row (and a pooled tenant's clinic row); `dedicated`: its own database's clinic row. */
  scope: "catalog" | "dedicated";
  /** Refuse to remove a tenant that still holds rows (off on the disposable local stack, whose destroy drops all). */
  guardData: boolean;
}

type DataPlane = typeof import("../../infra");
const write = (dp: DataPlane, i: RecordInputs) => (i.scope === "dedicated" ? dp.provisionDedicatedClinic(i.migratorUrl, i.tenant) : dp.upsertTenantRecord(i.migratorUrl, i.tenant));

export const recordProvider = databaseResourceProvider<RecordInputs, object>({
  replaceOn: ["scope"],
  async create(dp, _backend, inputs) {
    await write(dp, inputs);
    return { id: inputs.tenant.id, outs: {} };
  },
  async update(dp, _backend, _id, _olds, news) {
    await write(dp, news);
    return {};
  },
  async delete(dp, _backend, id, props) {
    if (props.scope === "dedicated") await dp.removeDedicatedClinic(props.migratorUrl, id, { refuseIfHoldsData: props.guardData });
    else await dp.removeTenantRecord(props.migratorUrl, id, { refuseIfHoldsData: props.guardData });
  },
});

export class TenantRecordResource extends pulumi.dynamic.Resource {
  constructor(name: string, args: { [K in keyof RecordInputs]: pulumi.Input<RecordInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("TenantRecord"), name, args, opts, "bloom", "TenantRecord");
  }
}
