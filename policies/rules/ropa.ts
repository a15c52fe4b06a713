import type { ResourceValidationPolicy } from "@pulumi/policy";
import { PERSONAL_DATA_TYPES } from "../../infra/compliance/ropaAnnotations";

const REQUIRED = ["purpose", "dataCategories", "retention", "region"] as const;

export const ropaAnnotated: ResourceValidationPolicy = {
  name: "ropa-annotations",
  description: "Every resource that holds personal data carries its ROPA annotation (purpose, data categories, retention, region).",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    // A CloudFormation stack that holds log groups says so in its tags; its annotation rides on the Observability component.
    const logStack = args.type === "aws:cloudformation/stack:Stack" && String(args.props.templateBody ?? "").includes("AWS::Logs::LogGroup");
    if (logStack && !(args.props.tags as Record<string, string> | undefined)?.["bloom:personal-data"]) {
      reportViolation(`${args.name} holds log groups but no bloom:personal-data tag: tag it with personalDataTags (infra/compliance/ropaAnnotations.ts)`);
    }
    if (!PERSONAL_DATA_TYPES.includes(args.type)) return;
    const ropa = args.props.ropa as Record<string, unknown> | undefined;
    const missing = REQUIRED.filter((k) => {
      const v = ropa?.[k];
      return v === undefined || v === "" || (Array.isArray(v) && v.length === 0);
    });
    if (missing.length) reportViolation(`${args.name} holds personal data but its ropa annotation lacks ${missing.join(", ")}: annotate it (infra/compliance/ropaAnnotations.ts)`);
  },
};
