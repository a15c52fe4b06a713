import { randomUUID } from "node:crypto";
import { runWithTenant } from "@bloom/tenant-runtime";
import { asClinic } from "../../../../lib/context";

export const dynamic = "force-dynamic";

/**
 * POST /api/appointments/create — the playbook's payload `{ paquete, terapeuta, branchId, date, hour }`; the patient
 * is the session's (the payload names none, and `patient_id` is NOT NULL). `clinic_id` comes from the transaction's
 * tenant (its default), never from the body.
 */
export async function POST(req: Request): Promise<Response> {
  return asClinic(req, async ({ clinicId, session, pool }) => {
    const body = (await req.json().catch(() => undefined)) as { paquete?: string; terapeuta?: string; branchId?: string; date?: string; hour?: string } | undefined;
    const missing = ["terapeuta", "branchId", "date", "hour"].filter((k) => !body?.[k as keyof typeof body]);
    if (missing.length) return Response.json({ title: `missing ${missing.join(", ")}`, status: 400 }, { status: 400 });
    const id = randomUUID();
    try {
      await runWithTenant(pool, clinicId, (c) => c.query(
        `INSERT INTO appointment (id, patient_id, therapist_id, branch_id, paquete_id, date, hour) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [id, session.patientId, body!.terapeuta, body!.branchId, body!.paquete ?? null, body!.date, body!.hour]));
    } catch (err) {
      // Another clinic's branch, therapist or paquete fails like an unknown one (composite foreign keys).
      if ((err as { code?: string }).code === "23503") return Response.json({ title: "unknown branch, therapist or paquete", status: 422 }, { status: 422 });
      throw err;
    }
    return Response.json({ id }, { status: 201 });
  });
}
