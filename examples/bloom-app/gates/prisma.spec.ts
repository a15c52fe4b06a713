import { expect, test } from "@playwright/test";
import { MissingTenantError, withTenantContext } from "@bloom/tenant-runtime";
import { createAppointment, listAppointments } from "../lib/appointments";
import { appDatabase, type AppDatabase } from "../lib/db";

// The playbook's unit gate, "Prisma tests that fail when clinicId is missing": the app's own data layer, on the
// stack's pooled URL as the app, with no tenant in context, must be refused before any SQL runs; with one, it sees
// its clinic's rows only. BLOOM_APP_MUTANT=unbound-prisma (a data layer on a client the runtime does not bind)
// must fail this file.
let db: AppDatabase;
const patients = () => JSON.parse(process.env.BLOOM_GATE_PATIENTS ?? "{}") as Record<string, string>;
const booking = (date: string) => ({ patientId: patients().alpha!, terapeuta: "thera-1", branchId: "branch-A", paquete: "pkg-alpha", date, hour: "09:00" });
const countAs = (clinicId: string) => withTenantContext(clinicId, async () => (await listAppointments(db, 10_000)).length);

test.beforeAll(() => {
  db = appDatabase(process.env.DATABASE_URL!, () => { throw new Error("no dedicated tenants in this gate"); });
});
test.afterAll(async () => db.close());

test("a query without a clinic is refused", async () => {
  await expect(listAppointments(db)).rejects.toBeInstanceOf(MissingTenantError);
});

test("a create without a clinic is refused and writes nothing", async () => {
  const before = { alpha: await countAs("alpha"), beta: await countAs("beta") };
  await expect(createAppointment(db, booking("2025-02-01"))).rejects.toBeInstanceOf(MissingTenantError);
  expect({ alpha: await countAs("alpha"), beta: await countAs("beta") }).toEqual(before);
});

test("in alpha's context, alpha's create is alpha's and the list holds alpha's rows only", async () => {
  const { id } = await withTenantContext("alpha", () => createAppointment(db, booking("2025-02-02")));
  const alpha = await withTenantContext("alpha", () => listAppointments(db, 10_000));
  expect(alpha.map((r) => r.id)).toContain(id);
  expect(new Set(alpha.map((r) => r.clinicId))).toEqual(new Set(["alpha"]));
  const beta = await withTenantContext("beta", () => listAppointments(db, 10_000));
  expect(beta.map((r) => r.id)).not.toContain(id);
});
