// examples/app-runtime/prismaTenant.ts — Prisma 7 (prisma-client generator, @prisma/adapter-pg) per tenant.
import { PrismaPg } from "@prisma/adapter-pg";
import { Pool } from "pg";
import { createTenantRouter, withTenantContext } from "@bloom/tenant-runtime";
import { createTenantPrisma } from "@bloom/tenant-runtime/prisma";
import { PrismaClient } from "../../prisma/generated/client"; // your generated client

export function tenantDatabase(databaseUrl: string, secrets: { get(name: string): string }) {
  const router = createTenantRouter({
    pool: new Pool({ connectionString: databaseUrl, max: 2 }),
    poolUrl: databaseUrl,
    // A dedicated tenant's credentials come from the app's secret store, never from the catalog or the flag store.
    credentialsFor: (tenantId) => secrets.get(`BLOOM_TENANT_DATABASE_URL_${tenantId}`),
  });
  return createTenantPrisma({
    router,
    adapterFor: (url) => {
      const pool = new Pool({ connectionString: url }); // one pool per database, shared by its tenants' clients
      pool.setMaxListeners(0); // each tenant's client adds one 'error' listener to it
      return new PrismaPg(pool);
    },
    createClient: (adapter) => new PrismaClient({ adapter }),
  });
}

// Per request: the clinic in context, then Prisma as usual — model operations, $transaction, raw queries.
export function bookAppointment(db: ReturnType<typeof tenantDatabase>, clinicId: string, booking: { patientId: string; therapistId: string; branchId: string; date: Date; hour: string }) {
  return withTenantContext(clinicId, () =>
    db.prisma.$transaction(async (tx) => {
      const taken = await tx.appointment.count({ where: { therapistId: booking.therapistId, date: booking.date, hour: booking.hour } });
      if (taken) throw new Error("slot taken"); // nothing of this transaction is kept
      return tx.appointment.create({ data: booking }); // clinicId: the tenant's, by the column's default
    }),
  );
}
