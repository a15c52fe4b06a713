import { CLOUDFLARE_SOURCES } from "../vendorRules/cloudflare";

/** What the zone already holds (Cloudflare's list of a zone's rulesets: id, kind, name, phase). */
export interface ExistingRuleset {
  id: string;
  kind: string;
  name: string;
  phase: string;
}

/**
 * A zone holds at most one entry-point ruleset per phase, so creating ours next to one made in the dashboard
 * fails (after other changes may have gone through). This finds that case first: an entry point of a phase the
 * platform owns, not named as ours and not adopted, is a refusal that says how to adopt it.
 */
export function entryPointConflicts(zoneId: string, existing: ExistingRuleset[], owned: { phase: string; name: string; resource: string }[], adopted: Record<string, string | undefined>, importOptions = ""): string[] {
  const problems: string[] = [];
  for (const o of owned) {
    const found = existing.find((r) => r.kind === "zone" && r.phase === o.phase);
    if (!found || found.name === o.name || adopted[o.phase] === found.id) continue;
    problems.push(
      `zone ${zoneId} already has a ${o.phase} entry-point ruleset "${found.name}" (${found.id}) made outside the platform; ` +
        `Cloudflare allows one per phase (${CLOUDFLARE_SOURCES.entryPoint}). Nothing was changed. To let the platform own it (its rules are ` +
        `replaced by the platform's): \`pulumi import cloudflare:index/ruleset:Ruleset ${o.resource} zones/${zoneId}/${found.id}${importOptions}\`, then set ` +
        `bloom:edge.adoptedRulesets.${o.phase}: ${found.id} and run \`pulumi up\`; or move its rules into bloom:limits and delete it in the dashboard.`,
    );
  }
  return problems;
}
