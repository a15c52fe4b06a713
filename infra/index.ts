/** The data plane's public surface: what dynamic providers and the runbook CLI load. */
export * from "./database/backend";
export { createDatabaseBackend, type BackendSettings } from "./database/createBackend";
export { appRoleDrift, ensureAppRole, withCredentials } from "./database/sql/appRole";
export { applyAppPrivilegesAt } from "./database/sql/appPrivileges";
export { loadMigrations, migrationsContentHash } from "./migrations/migrationSource";
export { deployMigrationsToTargets, deployIdFor } from "./migrations/deployToTargets";
export { ensureKvDatabase, deleteKvDatabase, kvDatabaseExists, kvClient, connectKv, type KvSettings } from "./kv/kvDatabase";
export { readFlag, writeFlag, deleteFlag, currentActor, writeTenantOverrides, readTenantOverrides } from "./kv/flagStore";
export { readBudgets, writeBudgets, writeTenantBudget, readTenantBudget, type Budget } from "./kv/budgetStore";
export { ensureAppKvAccess, deleteAppKvAccess } from "./kv/appAccess";
export { missingLimiterScripts } from "./kv/limiterScripts";
export { getTenancyMode, setTenancyMode } from "./tenancy/rlsModes";
export { applyTenancyModeFromStore, type StoreAccess } from "./tenancy/modeFromStore";
export { upsertTenantRecord, removeTenantRecord, provisionDedicatedClinic, removeDedicatedClinic, type TenantRecord } from "./tenancy/tenantCatalog";
