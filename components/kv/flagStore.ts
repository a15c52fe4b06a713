import * as pulumi from "@pulumi/pulumi";
import type { Budget, KvSettings } from "../../infra";
import { keyValueStoreRopa } from "../../infra/compliance/ropaAnnotations";
import { FeatureFlagResource, KvAppAccessResource, KvDatabaseResource, TierBudgetsResource } from "./kvResources";

export interface FlagStoreArgs {
  /** Upstash account + region, or the local Redis; carried as a secret input. */
  settings: pulumi.Input<KvSettings>;
  /** Database name, e.g. `bloom-staging`. */
  databaseName: string;
  /** Key prefix for this stack's keys (stacks may share a local Redis). */
  keyPrefix: string;
  /** Defaults and descriptions; tenant overrides are written by each tenant (TenantRegistration's settings). */
  flags: Record<string, { default: boolean; description?: string }>;
  /** The tiers' budgets; each tenant writes its own effective budget. */
  tierBudgets: Record<string, Budget>;
  protectData?: boolean;
}

/**
 * The environment's key-value store (Upstash, or Redis behind the local REST endpoint) with the flags and tenant
 * budgets declared in stack config written into it. Publishes the REST URL and token (secret) the app uses.
 */
export class FlagStore extends pulumi.ComponentResource {
  readonly restUrl: pulumi.Output<string>;
  /** The admin token: the platform's (flags, kill switches, budgets). Never the app's. */
  readonly restToken: pulumi.Output<string>;
  /** The app's scoped tokens: flags and budgets read-only; only the rate-limit keys writable. */
  readonly appReadToken: pulumi.Output<string>;
  readonly appLimiterToken: pulumi.Output<string>;
  readonly keyPrefix: string;
  /** URL, admin token and prefix in one secret: what platform-side resources (TenantBoundary) read the store with. */
  readonly access: pulumi.Output<{ restUrl: string; restToken: string; prefix: string }>;
  /** The declared flags: a tenant's overrides are written after them (an override needs its flag declared). */
  readonly flagResources: pulumi.Resource[];

  constructor(name: string, args: FlagStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bloom:kv:FlagStore", name, {}, opts);
    const ropa = pulumi.output(args.settings).apply((k) => keyValueStoreRopa(k.kind === "upstash" ? k.primaryRegion : "local"));
    const db = new KvDatabaseResource(`${name}-database`, { settings: pulumi.secret(args.settings), name: args.databaseName, ropa },
      { parent: this, protect: args.protectData, retainOnDelete: args.protectData });
    const store = pulumi.secret(pulumi.all([db.restUrl, db.restToken]).apply(([restUrl, restToken]) => ({ restUrl, restToken, prefix: args.keyPrefix })));
    this.flagResources = Object.entries(args.flags).map(([flag, decl]) =>
      new FeatureFlagResource(`${name}-flag-${flag}`, { store, name: flag, default: decl.default, description: decl.description ?? null }, { parent: this }));
    new TierBudgetsResource(`${name}-budgets`, { store, tiers: args.tierBudgets }, { parent: this });
    // ACL user names must be unique per Redis: locally stacks share one, so the prefix (which names the stack) is in it.
    const userBase = `bloom-app-${args.keyPrefix.replace(/[^a-zA-Z0-9-]+/g, "-").replace(/^-+|-+$/g, "")}`;
    const appAccess = new KvAppAccessResource(`${name}-app-access`, { store, userBase }, { parent: this });
    this.restUrl = db.restUrl;
    this.restToken = pulumi.secret(db.restToken);
    this.appReadToken = pulumi.secret(appAccess.readToken);
    this.appLimiterToken = pulumi.secret(appAccess.limiterToken);
    this.keyPrefix = args.keyPrefix;
    this.access = store;
    this.registerOutputs({ restUrl: this.restUrl, restToken: this.restToken, appReadToken: this.appReadToken, appLimiterToken: this.appLimiterToken, keyPrefix: this.keyPrefix });
  }
}
