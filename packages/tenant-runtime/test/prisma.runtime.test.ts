import { PrismaPg } from "@prisma/adapter-pg";
import { Pool } from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isTenantMaintenanceError, MissingTenantError, UnknownTenantError, withMaintenanceRetry, withTenantContext } from "@bloom/tenant-runtime";
import { PrismaClient } from "../../../prisma/generated/client";
import { setTenancyMode } from "../../../infra/tenancy/rlsModes";
import { fenceTenant, unfenceTenant } from "../../../infra/tenancy/tenantFence";
import { withClient } from "../../../infra/database/sql/withClient";
import { query, requirePostgres } from "../../../test/postgres";
import { seedTenants, type TenantDatabase } from "../../../test/tenantFixtures";
import { catalogTenants, pooledAppDatabase, tenantPrismaFor } from "./prismaHarness";
import { bookAppointment, tenantDatabase } from "../../../examples/app-runtime/prismaTenant";

/**
 * Prisma 7 through the runtime (issue 17, defects 2–6 and 8), with the real client (`prisma-client` generator, the
 * reference schema), @prisma/adapter-pg, the app role and PgBouncer in transaction mode. The database starts in
 * shadow mode: there a tenant-less statement sees every clinic, so a query that lost its tenant shows it.
 * Red at 00a8e25 (the documented extension); each "as documented before" case reproduces that code here.
 */
let db: TenantDatabase & { pooledAppUrl: string };
let rt: ReturnType<typeof tenantPrismaFor>;

beforeAll(async () => {
  await requirePostgres();
  db = await pooledAppDatabase("rt-prisma");
  rt = tenantPrismaFor(db.pooledAppUrl);
});
afterAll(async () => {
  await rt?.close();
  await db?.drop();
});
beforeEach(async () => {
  await seedTenants(db.url);
  await catalogTenants(db.url);
  await setTenancyMode(db.url, "shadow");
});

const patientsOf = async (clinic: string) => (await query<{ id: string }>(db.url, `SELECT id FROM patient WHERE clinic_id = $1 ORDER BY id`, [clinic])).map((r) => r.id);

describe("the tenant's Prisma client", () => {
  it("a thrown $transaction callback leaves nothing behind (defect 2; the documented extension committed each operation)", async () => {
    const before = await patientsOf("alpha");
    const err = await withTenantContext("alpha", () =>
      rt.prisma.$transaction(async (tx) => {
        await tx.patient.create({ data: { id: "p-tx-1", name: "in tx" } });
        await tx.branch.create({ data: { id: "b-tx-1", name: "in tx" } });
        throw new Error("handler failed");
      }),
    ).catch((e: Error) => e);
    expect((err as Error).message).toBe("handler failed");
    expect(await patientsOf("alpha")).toEqual(before);
    expect(await query(db.url, `SELECT id FROM branch WHERE id = 'b-tx-1'`)).toEqual([]);

    // As documented before: an extension wrapping each operation in its own batch transaction.
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.pooledAppUrl }) });
    const documented = base.$extends({
      query: { $allModels: { async $allOperations({ args, query: run }) {
        const [, result] = await base.$transaction([base.$executeRaw`SELECT set_config('app.clinic_id', ${"alpha"}, true)`, run(args)]);
        return result;
      } } },
    });
    await documented.$transaction(async (tx) => {
      await tx.patient.create({ data: { id: "p-doc-1", name: "documented", clinicId: "alpha" } });
      throw new Error("handler failed");
    }).catch(() => undefined);
    expect(await patientsOf("alpha")).toContain("p-doc-1"); // the defect, as it was
    await base.$disconnect();
  });

  it("a committed $transaction callback runs in one database transaction whose tenant is set first", async () => {
    const seen = await withTenantContext("beta", () =>
      rt.prisma.$transaction(async (tx) => {
        await tx.patient.create({ data: { id: "p-tx-2", name: "committed" } });
        return tx.$queryRaw<{ tenant: string; xid: string }[]>`SELECT current_setting('app.clinic_id', true) AS tenant, txid_current()::text AS xid`;
      }),
    );
    expect(seen[0]!.tenant).toBe("beta");
    const [row] = await query<{ clinic_id: string; xid: string }>(db.url, `SELECT clinic_id, xmin::text AS xid FROM patient WHERE id = 'p-tx-2'`);
    expect(row).toEqual({ clinic_id: "beta", xid: seen[0]!.xid }); // written by that same transaction
  });

  it("raw queries inside a tenant see only that tenant (defect 3), and without one are refused before the database", async () => {
    const raw = await withTenantContext("alpha", () => rt.prisma.$queryRaw<{ clinic_id: string }[]>`SELECT DISTINCT clinic_id FROM patient`);
    expect(raw.map((r) => r.clinic_id)).toEqual(["alpha"]);
    const unsafe = await withTenantContext("alpha", () => rt.prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM appointment`));
    expect(Number(unsafe[0]!.n)).toBe(3);
    const changed = await withTenantContext("alpha", () => rt.prisma.$executeRaw`UPDATE patient SET name = 'renamed'`);
    expect(changed).toBe(3);
    expect(await query(db.url, `SELECT id FROM patient WHERE name = 'renamed' AND clinic_id <> 'alpha'`)).toEqual([]);
    expect(() => rt.prisma.$queryRaw`SELECT 1`).toThrow(MissingTenantError);

    // As documented before: the extension covered model operations only, so a raw query ran without the tenant.
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.pooledAppUrl }) });
    const documented = base.$extends({ query: { $allModels: { async $allOperations({ args, query: run }) {
      const [, result] = await base.$transaction([base.$executeRaw`SELECT set_config('app.clinic_id', ${"alpha"}, true)`, run(args)]);
      return result;
    } } } });
    const escaped = await documented.$queryRaw<{ clinic_id: string }[]>`SELECT DISTINCT clinic_id FROM patient ORDER BY 1`;
    expect(escaped.map((r) => r.clinic_id)).toEqual(["alpha", "beta", "gamma"]); // the defect, as it was (shadow mode)
    await base.$disconnect();
  });

  it("a sync arrow keeps its tenant (defect 4: Prisma runs a query when it is awaited, after the arrow returned)", async () => {
    const rows = await withTenantContext("gamma", () => rt.prisma.patient.findMany({ orderBy: { id: "asc" } }));
    expect(rows.map((r) => r.clinicId)).toEqual(["gamma", "gamma", "gamma"]);
  });

  it("a batch $transaction runs every query under the tenant", async () => {
    const [patients, appointments] = await withTenantContext("beta", () =>
      rt.prisma.$transaction([rt.prisma.patient.findMany(), rt.prisma.appointment.count()]));
    expect(new Set(patients.map((p) => p.clinicId))).toEqual(new Set(["beta"]));
    expect(appointments).toBe(3);
  });

  it("creates without clinicId belong to the tenant in context (defect 5), nested creates too; none without a tenant", async () => {
    await withTenantContext("gamma", async () => {
      await rt.prisma.patient.create({ data: { id: "p-new-1", name: "new" } });
      await rt.prisma.paquete.createMany({ data: [{ id: "pk-new-1", name: "pk-new-1", sessions: 1, priceCents: 10 }] });
      await rt.prisma.branch.upsert({ where: { id: "b-new-1" }, create: { id: "b-new-1", name: "new" }, update: {} });
      await rt.prisma.branch.create({ data: { id: "b-new-2", name: "nested", therapists: { create: [{ id: "t-new-2", name: "nested" }] } } });
    });
    const rows = await query<{ id: string; clinic_id: string }>(db.url,
      `SELECT id, clinic_id FROM patient WHERE id = 'p-new-1' UNION ALL SELECT id, clinic_id FROM paquete WHERE id = 'pk-new-1'
       UNION ALL SELECT id, clinic_id FROM branch WHERE id IN ('b-new-1', 'b-new-2') UNION ALL SELECT id, clinic_id FROM therapist WHERE id = 't-new-2' ORDER BY id`);
    expect(rows).toEqual([["b-new-1"], ["b-new-2"], ["p-new-1"], ["pk-new-1"], ["t-new-2"]].map(([id]) => ({ id, clinic_id: "gamma" })));
    expect(() => rt.prisma.patient.create({ data: { id: "p-none", name: "none" } })).toThrow(MissingTenantError);
    expect(await query(db.url, `SELECT id FROM patient WHERE id = 'p-none'`)).toEqual([]);
  });

  it("a create naming another clinic is refused by the database", async () => {
    const err = await withTenantContext("alpha", () => rt.prisma.patient.create({ data: { id: "p-cross", name: "x", clinicId: "beta" } })).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(await query(db.url, `SELECT id FROM patient WHERE id = 'p-cross'`)).toEqual([]);
  });

  it("two clinics' clients interleaving 2,000 operations through PgBouncer never see each other's rows", async () => {
    await setTenancyMode(db.url, "shadow"); // a lost tenant would see both clinics' rows
    const OPS = 2_000;
    const leaks: string[] = [];
    const work = (clinic: string, i: number) => withTenantContext(clinic, async () => {
      switch (i % 4) {
        case 0: {
          const rows = await rt.prisma.patient.findMany();
          for (const r of rows) if (r.clinicId !== clinic) leaks.push(`${clinic} saw ${r.id}`);
          break;
        }
        case 1: {
          const one = await rt.prisma.patient.findUnique({ where: { id: `p-${clinic}-${i % 3}` } }); // batched by Prisma
          if (!one) leaks.push(`${clinic} missed its own p-${clinic}-${i % 3}`);
          const other = await rt.prisma.patient.findUnique({ where: { id: `p-${clinic === "alpha" ? "beta" : "alpha"}-0` } });
          if (other) leaks.push(`${clinic} found ${other.id}`);
          break;
        }
        case 2: {
          const raw = await rt.prisma.$queryRaw<{ c: string }[]>`SELECT DISTINCT clinic_id AS c FROM appointment`;
          if (raw.some((r) => r.c !== clinic)) leaks.push(`${clinic} raw saw ${raw.map((r) => r.c)}`);
          break;
        }
        default:
          await rt.prisma.$transaction(async (tx) => {
            const p = await tx.payment.findMany();
            if (p.some((x) => x.clinicId !== clinic)) leaks.push(`${clinic} tx saw another clinic's payment`);
          });
      }
    });
    const clinics = ["alpha", "beta"];
    for (let done = 0; done < OPS; done += 40) {
      await Promise.all(Array.from({ length: 40 }, (_, k) => work(clinics[k % 2]!, done + k)));
    }
    expect(leaks).toEqual([]);
  });

  it("an unknown clinic is an error, not an empty result", async () => {
    await expect(withTenantContext("nobody", () => rt.prisma.patient.findMany())).rejects.toBeInstanceOf(UnknownTenantError);
  });
});

describe("the documented Prisma snippet", () => {
  it("books in the tenant's transaction, and a refused booking leaves nothing", async () => {
    const app = tenantDatabase(db.pooledAppUrl, { get: (name) => { throw new Error(`no secret ${name}`); } });
    try {
      const booking = { patientId: "p-alpha-1", therapistId: "t-alpha-1", branchId: "b-alpha-1", date: new Date("2026-12-02"), hour: "09:00" };
      const made = await bookAppointment(app, "alpha", booking);
      expect(made).toMatchObject({ clinicId: "alpha", hour: "09:00" });
      await expect(bookAppointment(app, "alpha", booking)).rejects.toThrow("slot taken");
      expect(await query(db.url, `SELECT count(*)::int AS n FROM appointment WHERE date = '2026-12-02'`)).toEqual([{ n: 1 }]);
      await expect(bookAppointment(app, "beta", booking)).rejects.toThrow(); // alpha's patient is not beta's: the composite key refuses it
    } finally {
      await app.disconnect();
    }
  });
});

describe("a moving tenant through Prisma (defect 8)", () => {
  it("the fence's BL503 is recognised however Prisma wraps it, the client is dropped, and a retry succeeds once unfenced", async () => {
    await withClient(db.url, (c) => fenceTenant(c, "beta", "moving"));
    const model = await withTenantContext("beta", () => rt.prisma.patient.create({ data: { id: "p-fenced", name: "x" } })).catch((e) => e);
    const raw = await withTenantContext("beta", () => rt.prisma.$executeRaw`UPDATE patient SET name = 'y'`).catch((e) => e);
    expect([model.code, raw.code]).toEqual(["P2039", "P2010"]); // how Prisma 7 wraps a driver error: model operation, raw query
    expect(isTenantMaintenanceError(model)).toBe(true);
    expect(isTenantMaintenanceError(raw)).toBe(true);
    const stale = rt.forTenant("beta");
    let attempts = 0;
    const done = withMaintenanceRetry(() => withTenantContext("beta", () => {
      attempts++;
      if (attempts === 2) void withClient(db.url, (c) => unfenceTenant(c, "beta"));
      return rt.prisma.patient.create({ data: { id: "p-retried", name: "x" } });
    }), { backoff: () => 200 });
    await expect(done).resolves.toMatchObject({ id: "p-retried", clinicId: "beta" });
    expect(attempts).toBeGreaterThanOrEqual(2); // the first refused with BL503, then retried
    expect(rt.forTenant("beta")).not.toBe(stale); // re-resolved after the maintenance error
  });

  it("a tenant's next client after a move reaches its new home", async () => {
    const home = await pooledAppDatabase("rt-home");
    try {
      await seedTenants(home.url);
      const moved = tenantPrismaFor(db.pooledAppUrl, { credentialsFor: () => home.pooledAppUrl });
      try {
        expect((await withTenantContext("alpha", () => moved.prisma.patient.count()))).toBe(3);
        await query(db.url, `UPDATE bloom_platform.tenants SET isolation = 'dedicated', location = '{"kind":"dedicated","stack":"local-alpha","project":"p"}' WHERE id = 'alpha'`);
        await query(home.url, `DELETE FROM payment WHERE clinic_id = 'alpha' AND id = 'pay-alpha-0'`);
        moved.invalidate("alpha");
        expect(await withTenantContext("alpha", () => moved.prisma.payment.count())).toBe(2); // the new home's rows
      } finally {
        await moved.close();
      }
    } finally {
      await home.drop();
    }
  });
});
