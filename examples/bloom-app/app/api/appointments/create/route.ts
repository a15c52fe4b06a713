import { sqlStateOf } from "@bloom/tenant-runtime";
import { createAppointment } from "../../../../lib/appointments";
import { asClinic } from "../../../../lib/context";

export const dynamic = "force-dynamic";

/**
 * POST /api/appointments/create — the playbook's payload `{ paquete, terapeuta, branchId, date, hour }`; the patient
 * is the session's (the payload names none, and `patient_id` is NOT NULL). `clinic_id` comes from the transaction's
 * tenant (its default), never from the body.
 */
export async function POST(req: Request): Promise<Response> {
  return asClinic(req, async ({ db, session }) => {
    const body = (await req.json().catch(() => undefined)) as { paquete?: string; terapeuta?: string; branchId?: string; date?: string; hour?: string } | undefined;
    const missing = (["terapeuta", "branchId", "date", "hour"] as const).filter((k) => !body?.[k]);
    if (missing.length) return Response.json({ title: `missing ${missing.join(", ")}`, status: 400 }, { status: 400 });
    if (!/^\d{4}-\d{2}-\d{2}$/.test(body!.date!)) return Response.json({ title: "date must be YYYY-MM-DD", status: 400 }, { status: 400 });
    try {
      const { id } = await createAppointment(db, { patientId: session.patientId, terapeuta: body!.terapeuta!, branchId: body!.branchId!, paquete: body!.paquete, date: body!.date!, hour: body!.hour! });
      return Response.json({ id }, { status: 201 });
    } catch (err) {
      // Another clinic's branch, therapist or paquete fails like an unknown one (composite foreign keys).
      if (sqlStateOf(err) === "23503") return Response.json({ title: "unknown branch, therapist or paquete", status: 422 }, { status: 422 });
      throw err;
    }
  });
}
