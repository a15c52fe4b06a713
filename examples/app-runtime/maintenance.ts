// examples/app-runtime/maintenance.ts — a tenant that moves: retry its write, or answer 503 with Retry-After.
import { TenantStillInMaintenanceError, withMaintenanceRetry } from "@bloom/tenant-runtime";

export async function writeOrUnavailable<T>(write: () => Promise<T>, onRetry?: () => void): Promise<{ status: 200; body: T } | { status: 503; retryAfterSeconds: number }> {
  try {
    // Each attempt is a whole unit of work (its own transaction): a retry repeats nothing that committed.
    return { status: 200, body: await withMaintenanceRetry(write, { attempts: 6, onRetry }) };
  } catch (err) {
    if (err instanceof TenantStillInMaintenanceError) return { status: 503, retryAfterSeconds: 2 };
    throw err;
  }
}
