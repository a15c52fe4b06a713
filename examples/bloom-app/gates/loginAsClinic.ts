import { request } from "@playwright/test";

/**
 * The playbook's `loginAsClinic`: a real session from the app's sign-in, for the clinic's test patient
 * (BLOOM_GATE_PATIENTS maps clinic → patient id; the harness seeded them through the runtime).
 */
export async function loginAsClinic(clinicId: string): Promise<{ id: string; cookie: string }> {
  const patients = JSON.parse(process.env.BLOOM_GATE_PATIENTS ?? "{}") as Record<string, string>;
  const ctx = await request.newContext({ baseURL: process.env.BLOOM_APP_URL });
  const res = await ctx.post("/api/session", { data: { clinicId, patientId: patients[clinicId] } });
  if (!res.ok()) throw new Error(`sign-in as ${clinicId} failed: ${res.status()}`);
  const cookie = (res.headers()["set-cookie"] ?? "").split(";")[0]!;
  await ctx.dispose();
  return { id: clinicId, cookie };
}
