import * as pulumi from "@pulumi/pulumi";
import type { Budget, KvSettings } from "../../infra";
import { dataPlaneProvider } from "../database/dataPlaneProvider";
import { providerOfKind } from "../database/providerKinds";
import type { RopaAnnotation } from "../../infra/compliance/ropaAnnotations";

/** Dynamic resources over the key-value store: the database itself, each declared flag, and the tenant budgets. */
type In<T> = { [K in keyof T]: pulumi.Input<T[K]> };

interface KvDatabaseInputs { settings: KvSettings; name: string; ropa?: RopaAnnotation }
interface KvDatabaseOutputs { databaseId: string; restUrl: string; restToken: string }

export const kvDatabaseProvider = dataPlaneProvider<KvDatabaseInputs, KvDatabaseOutputs, KvSettings>({
  connect: (_dp, inputs) => inputs.settings,
  replaceOn: ["name"],
  async create(dp, settings, inputs) {
    const db = await dp.ensureKvDatabase(settings, inputs.name);
    return { id: db.databaseId, outs: db };
  },
  // Local: the endpoint may have been restarted with a new token; ensure returns the live one.
  async update(dp, settings, _id, _olds, news) {
    return dp.ensureKvDatabase(settings, news.name);
  },
  async delete(dp, settings, id) {
    await dp.deleteKvDatabase(settings, id);
  },
  // Gone, or (local) an endpoint that no longer answers to our token: refresh drops it and the next up recreates it.
  async refresh(dp, settings, id, props) {
    if (!(await dp.kvDatabaseExists(settings, id))) return undefined;
    if (settings.kind !== "local") return props;
    const answering = await (await dp.connectKv(props.restUrl, props.restToken)).ping().then(() => true, () => false);
    return answering ? props : undefined;
  },
});

export class KvDatabaseResource extends pulumi.dynamic.Resource {
  declare readonly databaseId: pulumi.Output<string>;
  declare readonly restUrl: pulumi.Output<string>;
  declare readonly restToken: pulumi.Output<string>;
  constructor(name: string, args: In<KvDatabaseInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("KvDatabase"), name, { databaseId: undefined, restUrl: undefined, restToken: undefined, ...args },
      { ...opts, additionalSecretOutputs: ["restToken"] }, "bloom", "KvDatabase");
  }
}

interface StoreAccess { restUrl: string; restToken: string; prefix: string }

/**
 * A declared flag: its default and description (`null`, not absent, when there is none: see replaceOn in
 * dataPlaneProvider.ts). Tenant overrides are each tenant's own (TenantSettingsResource).
 */
interface FlagInputs { store: StoreAccess; name: string; default: boolean; description: string | null }

export const flagProvider = dataPlaneProvider<FlagInputs, object, import("@upstash/redis").Redis>({
  connect: (dp, inputs) => dp.connectKv(inputs.store.restUrl, inputs.store.restToken),
  replaceOn: ["name"],
  async create(dp, redis, inputs) {
    await dp.writeFlag(redis, inputs.store.prefix, { ...inputs, description: inputs.description ?? undefined }, dp.currentActor(), "pulumi up");
    return { id: `${inputs.store.prefix}flag:${inputs.name}`, outs: {} };
  },
  async update(dp, redis, _id, _olds, news) {
    await dp.writeFlag(redis, news.store.prefix, { ...news, description: news.description ?? undefined }, dp.currentActor(), "pulumi up");
    return {};
  },
  async delete(dp, redis, _id, props) {
    await dp.deleteFlag(redis, props.store.prefix, props.name, dp.currentActor(), "pulumi destroy");
  },
  // Refresh reads the store back: a value changed by hand shows as drift, and the next `up` restores the config.
  async refresh(dp, redis, _id, props) {
    const state = await dp.readFlag(redis, props.store.prefix, props.name);
    if (state.default === undefined) return undefined;
    return { ...props, default: state.default, description: state.description ?? null };
  },
});

export class FeatureFlagResource extends pulumi.dynamic.Resource {
  constructor(name: string, args: In<FlagInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("FeatureFlag"), name, args, opts, "bloom", "FeatureFlag");
  }
}

/** The tiers' budgets: what a tenant without its own budget falls back to. Tenants' fields are their own. */
interface TierBudgetInputs { store: StoreAccess; tiers: Record<string, Budget> }

export const tierBudgetProvider = dataPlaneProvider<TierBudgetInputs, object, import("@upstash/redis").Redis>({
  connect: (dp, inputs) => dp.connectKv(inputs.store.restUrl, inputs.store.restToken),
  replaceOn: [],
  async create(dp, redis, inputs) {
    await dp.writeBudgets(redis, inputs.store.prefix, { tiers: inputs.tiers });
    return { id: `${inputs.store.prefix}budgets`, outs: {} };
  },
  async update(dp, redis, _id, _olds, news) {
    await dp.writeBudgets(redis, news.store.prefix, { tiers: news.tiers });
    return {};
  },
  async delete(dp, redis, _id, props) {
    await dp.writeBudgets(redis, props.store.prefix, { tiers: {} });
  },
  async refresh(dp, redis, _id, props) {
    return { ...props, tiers: (await dp.readBudgets(redis, props.store.prefix)).tiers };
  },
});

export class TierBudgetsResource extends pulumi.dynamic.Resource {
  constructor(name: string, args: In<TierBudgetInputs>, opts?: pulumi.CustomResourceOptions) {
    // It held every tenant's budget too before each tenant got its own: the alias keeps that state (no delete).
    super(providerOfKind("TierBudgets"), name, args, { ...opts, aliases: [...(opts?.aliases ?? []), { type: "pulumi-nodejs:dynamic/bloom:TenantBudgets" }] }, "bloom", "TierBudgets");
  }
}

/**
 * One tenant's entries in the store: its effective budget (own or tier's) and its flag overrides. `budget: null`
 * rather than absent: a dropped input key is not a change to the provider's diff, and the old budget would stay.
 */
interface TenantSettingsInputs { store: StoreAccess; tenantId: string; budget: Budget | null; flags: Record<string, boolean> }

export const tenantSettingsProvider = dataPlaneProvider<TenantSettingsInputs, object, import("@upstash/redis").Redis>({
  connect: (dp, inputs) => dp.connectKv(inputs.store.restUrl, inputs.store.restToken),
  replaceOn: ["tenantId"],
  async create(dp, redis, inputs) {
    await writeTenantSettings(dp, redis, inputs, "pulumi up");
    return { id: `${inputs.store.prefix}tenant:${inputs.tenantId}`, outs: {} };
  },
  async update(dp, redis, _id, _olds, news) {
    await writeTenantSettings(dp, redis, news, "pulumi up");
    return {};
  },
  async delete(dp, redis, _id, props) {
    await writeTenantSettings(dp, redis, { ...props, budget: null, flags: {} }, "pulumi destroy");
  },
  async refresh(dp, redis, _id, props) {
    const [budget, { overrides }] = await Promise.all([
      dp.readTenantBudget(redis, props.store.prefix, props.tenantId),
      dp.readTenantOverrides(redis, props.store.prefix, props.tenantId),
    ]);
    return { ...props, budget: budget ?? null, flags: overrides };
  },
});

async function writeTenantSettings(dp: typeof import("../../infra"), redis: import("@upstash/redis").Redis, s: TenantSettingsInputs, source: string) {
  await dp.writeTenantBudget(redis, s.store.prefix, s.tenantId, s.budget ?? undefined);
  await dp.writeTenantOverrides(redis, s.store.prefix, s.tenantId, s.flags, dp.currentActor(), source);
}

export class TenantSettingsResource extends pulumi.dynamic.Resource {
  constructor(name: string, args: In<TenantSettingsInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("TenantSettings"), name, args, opts, "bloom", "TenantSettings");
  }
}

interface AppAccessInputs { store: StoreAccess; userBase: string }
interface AppAccessOutputs { readerUser: string; readToken: string; limiterUser: string; limiterToken: string }

/** The app's scoped store credentials (infra/kv/appAccess.ts): re-applied on update with the same tokens. */
export const appAccessProvider = dataPlaneProvider<AppAccessInputs, AppAccessOutputs, StoreAccess>({
  connect: async (dp, inputs) => {
    await dp.connectKv(inputs.store.restUrl, inputs.store.restToken); // revives the local endpoint if it went away
    return inputs.store;
  },
  replaceOn: ["userBase"],
  async create(dp, store, inputs) {
    const access = await dp.ensureAppKvAccess(store.restUrl, store.restToken, store.prefix, inputs.userBase);
    return { id: `${inputs.userBase}`, outs: access };
  },
  async update(dp, store, _id, olds, news) {
    return dp.ensureAppKvAccess(store.restUrl, store.restToken, store.prefix, news.userBase, olds);
  },
  async delete(dp, store, _id, props) {
    await dp.deleteAppKvAccess(store.restUrl, store.restToken, [props.readerUser, props.limiterUser]);
  },
  // The limiter user runs only scripts the platform loaded; a store restart forgets them (issue 22).
  async drifted(dp, store) {
    const missing = await dp.missingLimiterScripts(store.restUrl, store.restToken);
    return missing.length ? `the store no longer holds ${missing.length} of the limiter's scripts (restarted?)` : undefined;
  },
});

export class KvAppAccessResource extends pulumi.dynamic.Resource {
  declare readonly readToken: pulumi.Output<string>;
  declare readonly limiterToken: pulumi.Output<string>;
  constructor(name: string, args: In<AppAccessInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerOfKind("KvAppAccess"), name, { readerUser: undefined, readToken: undefined, limiterUser: undefined, limiterToken: undefined, ...args },
      { ...opts, additionalSecretOutputs: ["readToken", "limiterToken"] }, "bloom", "KvAppAccess");
  }
}
