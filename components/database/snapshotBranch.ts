import * as pulumi from "@pulumi/pulumi";
import type { BackendSettings } from "../../infra";
import { DatabaseBranchResource } from "./resources";
import { snapshotBranchRopa } from "../../infra/compliance/ropaAnnotations";

export interface SnapshotBranchArgs {
  backend: pulumi.Input<BackendSettings>;
  projectId: pulumi.Input<string>;
  /** Branch name, e.g. `snap-20261127-0900-pre-rls`. */
  branchName: string;
  /** Parent branch id; the project's default branch when omitted. */
  parentBranchId?: pulumi.Input<string>;
  /** Point in time on the parent (RFC 3339 with a zone). Neon only. */
  at?: string;
  /** Expiry (RFC 3339 with a zone) after which the snapshot may be deleted. */
  expiresAt?: string;
  protectData?: boolean;
  /** Region of the project (ROPA annotation); `local` on loopback. */
  region?: pulumi.Input<string>;
}

const BRANCH_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** RFC 3339 date-time with a zone (what Neon accepts for a branch point or expiry; it answers 422 otherwise). */
export const RFC3339_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** A branch of a database taken from its parent: a snapshot before a risky step, or a repoint target for rollback. */
export class SnapshotBranch extends pulumi.ComponentResource {
  readonly branchId: pulumi.Output<string>;
  readonly createdAt: pulumi.Output<string>;

  constructor(name: string, args: SnapshotBranchArgs, opts?: pulumi.ComponentResourceOptions) {
    checkSnapshotArgs(args);
    super("bloom:database:SnapshotBranch", name, {}, opts);
    const branch = new DatabaseBranchResource(`${name}-branch`, {
      backend: pulumi.secret(args.backend),
      projectId: args.projectId,
      name: args.branchName,
      parentBranchId: args.parentBranchId,
      at: args.at,
      expiresAt: args.expiresAt,
      ropa: pulumi.output(args.region ?? "local").apply((region) => snapshotBranchRopa(region || "local", args.expiresAt)),
    }, { parent: this, protect: args.protectData, retainOnDelete: args.protectData });
    this.branchId = branch.branchId;
    this.createdAt = branch.createdAt;
    this.registerOutputs({ branchId: this.branchId, createdAt: this.createdAt });
  }
}

/** Bad input fails before the component registers, so nothing half-exists. */
function checkSnapshotArgs(args: SnapshotBranchArgs): void {
  if (!BRANCH_NAME.test(args.branchName)) {
    throw new pulumi.InputPropertyError({ propertyPath: "branchName", reason: `branchName "${args.branchName}" must be lowercase letters, digits and hyphens (<= 63), e.g. snap-20261127-pre-rls` });
  }
  for (const [field, value] of [["at", args.at], ["expiresAt", args.expiresAt]] as const) {
    if (value !== undefined && (!RFC3339_DATE_TIME.test(value) || Number.isNaN(Date.parse(value)))) {
      throw new pulumi.InputPropertyError({ propertyPath: field, reason: `${field} "${value}" is not an RFC 3339 date-time with a zone, such as 2026-11-27T09:00:00Z or 2026-11-27T10:00:00+01:00` });
    }
  }
}
