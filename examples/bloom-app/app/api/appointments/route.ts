import { runWithTenant, runWithoutTenant } from "@bloom/tenant-runtime";
import { asClinic } from "../../../lib/context";

export const dynamic = "force-dynamic";

/**
 * GET /api/appointments — the clinic's reservations. BLOOM_APP_MUTANT=tenantless-list turns this route into the
 * bug the gate must catch (a read without the tenant): read at request time, so one build serves both runs.
 */
export async function GET(req: Request): Promise<Response> {
  return asClinic(req, async ({ clinicId, pool }) => {
    const list = (c: { query: typeof pool.query }) => c.query<{ id: string; date: string; hour: string; branch_id: string; therapist_id: string; paquete_id: string | null }>(
      `SELECT id, to_char(date, 'YYYY-MM-DD') AS date, hour, branch_id, therapist_id, paquete_id FROM appointment ORDER BY date, hour, id LIMIT 200`);
    const { rows } = process.env.BLOOM_APP_MUTANT === "tenantless-list" ? await runWithoutTenant(pool, list) : await runWithTenant(pool, clinicId, list);
    return Response.json({ reservations: rows.map((r) => ({ id: r.id, date: r.date, hour: r.hour, branchId: r.branch_id, terapeuta: r.therapist_id, paquete: r.paquete_id })) });
  });
}
