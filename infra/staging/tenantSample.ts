import { createHmac } from "node:crypto";

/**
 * Which tenants a staging copy takes: the ones named (`--tenants a,b`), or a sample (`--sample 10%`) of ⌈10 %⌉ of
 * them, whole, chosen by the run key (the same key picks the same tenants), or all of them.
 */
export interface TenantSelection {
  tenants?: string[];
  /** "10%" */
  sample?: string;
}

export function parseSample(sample: string): number {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(sample.trim());
  const pct = m ? Number(m[1]) : NaN;
  if (!(pct > 0 && pct <= 100)) throw new Error(`--sample "${sample}": a percentage of tenants above 0 and at most 100, e.g. --sample 10%`);
  return pct;
}

export function selectTenants(available: string[], selection: TenantSelection, runKey: Buffer): string[] {
  if (selection.tenants && selection.sample) throw new Error("--tenants and --sample exclude each other: name the tenants, or sample them");
  if (!available.length) throw new Error("the source has no pooled tenants to copy");
  if (selection.tenants) {
    const unknown = selection.tenants.filter((t) => !available.includes(t));
    if (unknown.length) throw new Error(`--tenants: ${unknown.join(", ")} ${unknown.length === 1 ? "is not a pooled tenant" : "are not pooled tenants"} of the source (it has ${available.join(", ")})`);
    return [...new Set(selection.tenants)].sort();
  }
  if (!selection.sample) return [...available].sort();
  const n = Math.ceil((parseSample(selection.sample) / 100) * available.length);
  const rank = (t: string) => createHmac("sha256", runKey).update("sample\0").update(t).digest("hex");
  return [...available].sort((a, b) => rank(a).localeCompare(rank(b))).slice(0, n).sort();
}
