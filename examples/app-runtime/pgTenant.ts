// examples/app-runtime/pgTenant.ts — the tenant per transaction with `pg`.
import { Pool } from "pg";
import { currentTenant, runWithTenant } from "@bloom/tenant-runtime";

export const pool = (databaseUrl: string) => new Pool({ connectionString: databaseUrl });

// In a request handler, once the clinic is authenticated:
export async function appointmentsOn(db: Pool, clinicId: string, day: string) {
  return runWithTenant(db, clinicId, async (client) => {
    // BEGIN; SELECT set_config('app.clinic_id', $1, true) have run; COMMIT (or ROLLBACK on throw) follows.
    const { rows } = await client.query('SELECT id, hour FROM "appointment" WHERE date = $1 ORDER BY hour', [day]);
    return { clinic: currentTenant(), rows }; // nested code reads the tenant from the context
  });
}
