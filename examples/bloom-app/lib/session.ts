import { createHmac, timingSafeEqual } from "node:crypto";

/** A session names a clinic and the patient acting in it; signed, so a clinic cannot become another by a header. */
export interface Session {
  clinicId: string;
  patientId: string;
}

function sessionSecret(): string {
  const v = process.env.SESSION_SECRET;
  if (!v) throw new Error("SESSION_SECRET is not set (examples/bloom-app/README.md)");
  return v;
}

const sign = (payload: string) => createHmac("sha256", sessionSecret()).update(payload).digest("base64url");

export function sessionCookie(s: Session): string {
  const payload = Buffer.from(JSON.stringify(s)).toString("base64url");
  return `bloom_session=${payload}.${sign(payload)}`;
}

/** The session in a Cookie header, if its signature holds. */
export function readSession(cookieHeader: string | null | undefined): Session | undefined {
  const raw = cookieHeader?.split(/;\s*/).find((c) => c.startsWith("bloom_session="))?.slice("bloom_session=".length);
  const [payload, sig] = raw?.split(".") ?? [];
  if (!payload || !sig) return undefined;
  const expected = Buffer.from(sign(payload));
  if (expected.length !== Buffer.from(sig).length || !timingSafeEqual(expected, Buffer.from(sig))) return undefined;
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Session;
}
