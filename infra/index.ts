/** The data plane's public surface: what dynamic providers and the runbook CLI load. */
export * from "./database/backend";
export { createDatabaseBackend, type BackendSettings } from "./database/createBackend";
export { ensureAppRole, dropAppRole, withCredentials } from "./database/sql/appRole";
