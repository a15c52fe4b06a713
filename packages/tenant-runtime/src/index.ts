// @bloom/tenant-runtime: the tenant per transaction for `pg`, routing, the tenancy mode and the maintenance error.
// Prisma 7: "@bloom/tenant-runtime/prisma". Rate limits and flags: "@bloom/tenant-runtime/limiter".
export { currentTenant, requireTenant, withTenantContext, MissingTenantError, TenantContextConflictError } from "./context.js";
export { runWithTenant, runWithoutTenant, type SqlClient, type PooledSqlClient, type SqlPool, type PoolClientOf } from "./transaction.js";
export { createTenantRouter, readTenancyMode, isUnknownTenantError, UnknownTenantError, TenantNotInCatalogError } from "./routing.js";
export type { TenantConnection, TenantLocation, TenantRouter, TenantRouterOptions, TenancyMode } from "./routing.js";
export { isTenantMaintenanceError, sqlStateOf, withMaintenanceRetry, TenantStillInMaintenanceError, TENANT_MAINTENANCE_SQLSTATE } from "./maintenance.js";
export type { MaintenanceRetryOptions } from "./maintenance.js";
export { SECURITY_HEADERS, nextSecurityHeaders } from "./securityHeaders.js";
