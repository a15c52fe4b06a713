import type { ResourceValidationPolicy } from "@pulumi/policy";
import { MIN_PROD_HISTORY_SECONDS } from "../../infra/compliance/dataProtection";
import { dynamicType, isProd } from "./stackFacts";

/** Resources whose loss is the loss of clinic data (the store holds the flags and limits the app runs on). */
export const DATA_RESOURCE_TYPES = ["DatabaseProject", "Database", "KvDatabase"].map(dynamicType);

export const prodDataProtected: ResourceValidationPolicy = {
  name: "prod-data-protected",
  description: "Prod data resources (projects, databases, the key-value store) are protected from deletion.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (!DATA_RESOURCE_TYPES.includes(args.type) || !isProd(args.urn)) return;
    // A policy sees `protect` but not `retainOnDelete`; that one is checked by the program's mocks tests.
    if (!args.opts.protect) reportViolation(`${args.name} holds prod data and is not protected: set protect (and retainOnDelete) on it`);
  },
};

export const prodHistoryRetention: ResourceValidationPolicy = {
  name: "prod-history-retention",
  description: `Prod Neon projects keep at least 7 days of point-in-time history (${MIN_PROD_HISTORY_SECONDS} s).`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== dynamicType("DatabaseProject") || !isProd(args.urn) || args.props.backend?.kind !== "neon") return;
    const seconds = Number(args.props.historyRetentionSeconds ?? 0);
    if (seconds < MIN_PROD_HISTORY_SECONDS) {
      reportViolation(`${args.name} keeps ${seconds} s of history; prod needs >= ${MIN_PROD_HISTORY_SECONDS} (7 days): raise bloom:database.neon.historyRetentionSeconds`);
    }
  },
};

export const snapshotTtlSet: ResourceValidationPolicy = {
  name: "snapshot-ttl-set",
  description: "Snapshots expire: branches taken as snapshots carry an expiry, the deploy hook a snapshot TTL.",
  enforcementLevel: "advisory",
  validateResource: (args, reportViolation) => {
    if (args.type === dynamicType("DatabaseBranch") && !args.props.expiresAt) reportViolation(`snapshot branch ${args.props.name ?? args.name} never expires: set expiresAt`);
    if (args.type === dynamicType("MigrationHook") && !(Number(args.props.snapshotTtlHours) > 0)) reportViolation(`${args.name} takes snapshots without a TTL: set bloom:migrations.snapshotTtlHours`);
  },
};
