import * as pulumi from "@pulumi/pulumi";
import { maskedColumns } from "../../infra/compliance/columnAnnotations";
import { stagingCopyRopa } from "../../infra/compliance/ropaAnnotations";

/**
 * A stack's declaration that it holds a masked copy of another stack's data (bloom:stagingCopy). It creates
 * nothing: `bloom staging refresh` makes the copy. It carries what the policy pack checks (where the data comes
 * from and how it is anonymised on the way) and the ROPA entry of the copy.
 */
export interface StagingCopyArgs {
  environment: string;
  sourceStack: string;
  /** How prod's rows are anonymised before staging sees them: Neon's anonymized branch, or the local masked COPY. */
  via: "anonymized-branch" | "masked-copy";
  region: string;
  keepPreviousDays: number;
}

export class StagingCopy extends pulumi.ComponentResource {
  constructor(name: string, args: StagingCopyArgs, opts?: pulumi.ComponentResourceOptions) {
    const masked = maskedColumns().map((c) => `${c.table}.${c.column}:${c.mask}`);
    super("bloom:staging:StagingCopy", name, {
      environment: args.environment,
      sourceStack: args.sourceStack,
      via: args.via,
      maskedColumns: masked,
      ropa: stagingCopyRopa(args.region, args.sourceStack, args.keepPreviousDays),
    }, opts);
    this.registerOutputs({});
  }
}
