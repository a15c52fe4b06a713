import { isoSeconds } from "../time";
import { NEON_MAX_BRANCH_EXPIRY_HOURS } from "../vendorRules/neon";

/**
 * A snapshot the app is pointed at must not expire: Neon deletes an expired branch with its computes, and the live
 * database would go with it. A rollback clears the snapshot's expiry; its undo gives the expiry back, but never
 * earlier than now + the TTL (the old one may have passed meanwhile, and setting a past expiry deletes the branch)
 * and never past Neon's 30 days.
 */
export function expiryAfterRollback(original: string | undefined, ttlHours: number, now = Date.now()): string | undefined {
  if (!original) return undefined; // it had none (a snapshot kept until deleted by hand): it gets none back
  const earliest = now + ttlHours * 3_600_000;
  const latest = now + NEON_MAX_BRANCH_EXPIRY_HOURS * 3_600_000 - 60_000;
  return isoSeconds(new Date(Math.min(latest, Math.max(earliest, Date.parse(original)))));
}
