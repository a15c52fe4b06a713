import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isProd } from "./stackFacts";

/** The ways a copy of prod's rows is anonymised before a non-prod stack sees them (components/staging/stagingCopy.ts). */
export const ANONYMISING_PATHS = ["anonymized-branch", "masked-copy"];
const STAGING_COPY = "bloom:staging:StagingCopy";

export const prodDataOnlyAnonymised: ResourceValidationPolicy = {
  name: "prod-data-only-anonymised",
  description: "A non-prod stack holds prod's data only as an anonymised copy (a Neon anonymized branch, or the masked COPY), with masked columns; prod receives no copy.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== STAGING_COPY) return;
    if (isProd(args.urn)) return reportViolation(`${args.name}: prod is never the target of a copy; remove bloom:stagingCopy from the prod stack`);
    const from = String(args.props.sourceStack ?? "");
    if (from !== "prod" && !from.startsWith("prod-")) return;
    if (!ANONYMISING_PATHS.includes(String(args.props.via))) {
      reportViolation(`${args.name} copies ${from}'s data via "${args.props.via}": only ${ANONYMISING_PATHS.join(" or ")} may bring prod data to a non-prod stack (bloom staging refresh)`);
    }
    const masked = (args.props.maskedColumns as string[] | undefined) ?? [];
    if (!masked.length) reportViolation(`${args.name} copies ${from}'s data with no masked column: annotate the personal columns (infra/compliance/columnAnnotations.ts)`);
  },
};
