import { existsSync, writeFileSync } from "node:fs";
import { expect, test, type APIResponse } from "@playwright/test";
import { loginAsClinic } from "./loginAsClinic";

// The playbook's isolation test, looped while alpha moves to its own database (the harness runs `bloom tenants
// extract alpha --online` meanwhile and writes BLOOM_GATE_STOP_FILE when it is done): every answer is 2xx, 429 or
// 503 with Retry-After — never a 500 — and neither clinic ever lists the other's appointment. The ids each clinic
// created go to BLOOM_GATE_CREATED_FILE for the harness to find in their homes.
test("alpha and beta through alpha's online move: 2xx, 429 or 503 with Retry-After, never the other's row", async ({ request }) => {
  test.setTimeout(Number(process.env.BLOOM_GATE_LOOP_MS ?? 300_000) + 60_000);
  const stopFile = process.env.BLOOM_GATE_STOP_FILE!;
  const deadline = Date.now() + Number(process.env.BLOOM_GATE_LOOP_MS ?? 300_000);
  const clinics = { alpha: await loginAsClinic("alpha"), beta: await loginAsClinic("beta") };
  const booking = { alpha: { paquete: "pkg-alpha", terapeuta: "thera-1", branchId: "branch-A" }, beta: { paquete: "pkg-beta", terapeuta: "thera-b", branchId: "branch-B" } };
  const created = { alpha: [] as string[], beta: [] as string[] };
  const statuses: Record<string, number> = {};
  const wrong: string[] = [];
  const seen = (clinic: string, what: string, res: APIResponse) => {
    const key = `${what} ${res.status()}`;
    statuses[key] = (statuses[key] ?? 0) + 1;
    if (![200, 201, 429, 503].includes(res.status())) wrong.push(`${clinic} ${key}`);
    if ([429, 503].includes(res.status()) && !res.headers()["retry-after"]) wrong.push(`${clinic} ${key} without Retry-After`);
    if (res.status() === 503) void res.json().then((b: { title?: string }) => (unavailable[`${clinic} ${what}: ${b.title}`] = (unavailable[`${clinic} ${what}: ${b.title}`] ?? 0) + 1));
  };
  const unavailable: Record<string, number> = {};
  for (let round = 0; !existsSync(stopFile) && Date.now() < deadline; round++) {
    for (const clinic of ["alpha", "beta"] as const) {
      const headers = { "x-clinic-id": clinics[clinic].id, cookie: clinics[clinic].cookie };
      const made = await request.post("/api/appointments/create", { headers, data: { ...booking[clinic], date: "2025-06-01", hour: `${String(round % 24).padStart(2, "0")}:00` } });
      seen(clinic, "create", made);
      if (made.status() === 201) created[clinic].push(((await made.json()) as { id: string }).id);
      const list = await request.get("/api/appointments", { headers });
      seen(clinic, "list", list);
      if (list.status() === 200) {
        const other = new Set(created[clinic === "alpha" ? "beta" : "alpha"]);
        for (const r of ((await list.json()) as { reservations: { id: string }[] }).reservations) if (other.has(r.id)) wrong.push(`${clinic} listed the other clinic's ${r.id}`);
      }
    }
  }
  writeFileSync(process.env.BLOOM_GATE_CREATED_FILE!, JSON.stringify(created));
  console.log(`[move loop] answers: ${JSON.stringify(statuses)}; 503s: ${JSON.stringify(unavailable)}; created alpha ${created.alpha.length}, beta ${created.beta.length}`);
  expect(existsSync(stopFile), "the move finished before the loop's deadline").toBe(true);
  expect(wrong).toEqual([]);
  expect(created.alpha.length).toBeGreaterThan(0);
  expect(created.beta.length).toBeGreaterThan(0);
});
