import type { AppDatabase } from "./db";

/**
 * The app's appointment data, in the tenant in context (the route sets it with withTenantContext): no function here
 * names a clinic, and none can reach another's rows — the runtime's client refuses to run without a tenant.
 */
export interface Reservation {
  id: string;
  date: string;
  hour: string;
  branchId: string;
  terapeuta: string;
  paquete: string | null;
  clinicId: string;
}

export async function listAppointments(db: Pick<AppDatabase, "prisma">, take = 200): Promise<Reservation[]> {
  const rows = await db.prisma.appointment.findMany({ orderBy: [{ date: "asc" }, { hour: "asc" }, { id: "asc" }], take });
  return rows.map((r) => ({ id: r.id, date: r.date.toISOString().slice(0, 10), hour: r.hour, branchId: r.branchId, terapeuta: r.therapistId, paquete: r.paqueteId, clinicId: r.clinicId }));
}

export interface NewAppointment {
  patientId: string;
  terapeuta: string;
  branchId: string;
  paquete?: string | null;
  date: string;
  hour: string;
}

/** `clinicId` is left to the column's default: the transaction's tenant, never the caller's word. */
export async function createAppointment(db: Pick<AppDatabase, "prisma">, a: NewAppointment): Promise<{ id: string }> {
  const row = await db.prisma.appointment.create({
    data: { patientId: a.patientId, therapistId: a.terapeuta, branchId: a.branchId, paqueteId: a.paquete ?? null, date: new Date(`${a.date}T00:00:00Z`), hour: a.hour },
    select: { id: true },
  });
  return row;
}
