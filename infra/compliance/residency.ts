/**
 * Data residency: where a tenant's data may live. A clinic's booking data is health data (GDPR Art. 9); an EU
 * clinic's stays in EU regions. Regions are Neon's ids (the database) — the platform's only store of patient rows.
 */
export const RESIDENCIES = ["eu", "us", "any"] as const;
export type Residency = (typeof RESIDENCIES)[number];

const ALLOWED: Record<Exclude<Residency, "any">, RegExp> = {
  eu: /^(aws-eu-[a-z]+-\d+|azure-gwc)$/,
  us: /^(aws-us-[a-z]+-\d+|azure-(eastus2|westus3))$/,
};

/** Where a tenant's rows live: a dedicated tenant in its own project's region (the pool's if it names none), a pooled one in the pool's. */
export const tenantDataRegion = (t: { isolation: string; region?: string }, poolRegion: string): string =>
  t.isolation === "dedicated" ? t.region ?? poolRegion : poolRegion;

/** `local` (loopback, no cloud region) is allowed for every residency: nothing leaves the machine. */
export function regionAllowed(residency: Residency, region: string): boolean {
  if (residency === "any" || region === "local") return true;
  return ALLOWED[residency].test(region);
}
