import { sessionCookie } from "../../../lib/session";

export const dynamic = "force-dynamic";

/**
 * POST /api/session `{ clinicId, patientId }` — the example's sign-in, for tests only (BLOOM_APP_TEST_LOGIN=1): a
 * real app signs its users in; what matters here is that the session, not the header, decides the clinic.
 */
export async function POST(req: Request): Promise<Response> {
  if (process.env.BLOOM_APP_TEST_LOGIN !== "1") return Response.json({ title: "test sign-in is off", status: 404 }, { status: 404 });
  const { clinicId, patientId } = (await req.json()) as { clinicId: string; patientId: string };
  return Response.json({ clinicId }, { headers: { "set-cookie": `${sessionCookie({ clinicId, patientId })}; Path=/; HttpOnly; SameSite=Lax` } });
}
