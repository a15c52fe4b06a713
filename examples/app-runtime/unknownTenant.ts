// examples/app-runtime/unknownTenant.ts — an unknown clinic is a 404, an empty one a 200 with [].
import { isUnknownTenantError, readTenancyMode, type SqlClient, type TenantRouter } from "@bloom/tenant-runtime";

export async function listOr404<T>(router: TenantRouter, clinicId: string, list: () => Promise<T[]>): Promise<{ status: 200; body: T[] } | { status: 404 }> {
  try {
    await router.resolveTenantConnection(clinicId); // cached; UnknownTenantError when the platform does not know it
    return { status: 200, body: await list() };
  } catch (err) {
    if (isUnknownTenantError(err)) return { status: 404 };
    throw err;
  }
}

// shadow: tenant-less access is allowed and counted; enforce: it sees nothing. Read-only for the app.
export const databaseMode = (db: SqlClient) => readTenancyMode(db);
