import { COLUMN_ANNOTATIONS, maskedColumns, type MaskStrategy } from "../compliance/columnAnnotations";
import { maskingRuleProblem, type NeonMaskingRule } from "../vendorRules/neon";
import { quoteIdent } from "../naming";
import { MASKED_EMAIL_DOMAIN, MASKED_SECRET } from "./masking";
import type { Annotations } from "./maskedCopy";

/**
 * Neon's masking rules for an anonymized branch, generated from the same column annotations as the local masking.
 * Each strategy keeps the local path's promise where the anonymizer can: emails are a hash of the value at
 * staging.invalid (distinct emails stay distinct, so the (clinic_id, email) unique holds), phones keep their first
 * three characters and get random digits after a 0, dates move 1–60 days forward (never 0, so no row keeps its
 * own date; Neon draws a row's two dates apart, where the local copy moves them together).
 */
function rule(strategy: Exclude<MaskStrategy, "keep">, column: string): Pick<NeonMaskingRule, "masking_function" | "masking_value"> {
  const c = quoteIdent(column);
  switch (strategy) {
    case "email":
      return { masking_function: `pg_catalog.left(anon.hash(${c}), 16) || '@${MASKED_EMAIL_DOMAIN}'` };
    case "phone":
      return { masking_function: `anon.random_phone(pg_catalog.left(${c}, 3) || '0')` };
    case "person-name":
      return { masking_function: "anon.fake_first_name() || ' ' || anon.fake_last_name()" };
    case "secret":
      return { masking_value: MASKED_SECRET };
    case "token":
      return { masking_function: `pg_catalog.split_part(${c}, '_', 1) || '_masked' || pg_catalog.left(anon.hash(${c}), 24)` };
    case "date-shift":
      return { masking_function: `${c} + anon.random_int_between(1, 60) * interval '1 day'` };
    case "redact":
      return { masking_value: "[masked]" };
  }
}

export function neonMaskingRules(database: string, annotations: Annotations = COLUMN_ANNOTATIONS): NeonMaskingRule[] {
  const rules = maskedColumns(annotations).map((c) => ({
    database_name: database,
    schema_name: "public",
    table_name: c.table,
    column_name: c.column,
    ...rule(c.mask as Exclude<MaskStrategy, "keep">, c.column),
  }));
  const problems = rules.map(maskingRuleProblem).filter((p): p is string => !!p);
  if (problems.length) throw new Error(`masking rules Neon would not apply:\n  ${problems.join("\n  ")}`);
  return rules;
}
