import { listAppointments } from "../../../lib/appointments";
import { asClinic } from "../../../lib/context";

export const dynamic = "force-dynamic";

/**
 * GET /api/appointments — the clinic's reservations (Prisma, in the request's tenant). BLOOM_APP_MUTANT=tenantless-list
 * turns this route into the bug the leakage gate must catch (a read without the tenant): read at request time, so
 * one build serves both runs.
 */
export async function GET(req: Request): Promise<Response> {
  return asClinic(req, async ({ db, pool }) => {
    if (process.env.BLOOM_APP_MUTANT === "tenantless-list") {
      // Around the runtime (which refuses a tenant-less read inside the request's tenant): the pool, no tenant.
      const { rows } = await pool.query(`SELECT id, to_char(date, 'YYYY-MM-DD') AS date, hour, branch_id AS "branchId", therapist_id AS terapeuta, paquete_id AS paquete FROM appointment ORDER BY date, hour, id LIMIT 200`);
      return Response.json({ reservations: rows });
    }
    const reservations = (await listAppointments(db)).map(({ clinicId: _clinic, ...r }) => r);
    return Response.json({ reservations });
  });
}
