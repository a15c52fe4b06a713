/** Timestamps as the platform writes them: RFC 3339 to the second (what Neon's expires_at takes), and a compact,
 * sortable stamp for names (`20261127-0930`, UTC). */
export const isoSeconds = (at: Date = new Date()): string => at.toISOString().replace(/\.\d{3}Z$/, "Z");

export const hoursFromNow = (hours: number): string => isoSeconds(new Date(Date.now() + hours * 3_600_000));

export const compactStamp = (at: Date = new Date()): string => at.toISOString().replace(/[-:]/g, "").replace(/T(\d{4}).*/, "-$1");
