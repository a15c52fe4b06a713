import path from "node:path";
import type { DatabaseBackend } from "./backend";
import { LocalPostgresBackend } from "./local/localPostgresBackend";
import { ensureEmbeddedServer } from "./local/embeddedPostgres";
import { poolerStateDir } from "./local/pgbouncer";
import { NeonBackend } from "./neon/neonBackend";

/** What a dynamic resource carries to rebuild its backend inside the provider process (secrets stay secret inputs). */
export type BackendSettings =
  | { kind: "local"; serverUrl?: string; embeddedDataDir?: string; poolerPort?: number }
  | { kind: "neon"; apiKey: string; apiBaseUrl?: string; orgId?: string };

export const DEFAULT_EMBEDDED_DATA_DIR = path.resolve(__dirname, "..", "..", ".bloom", "embedded-postgres");

export function createDatabaseBackend(settings: BackendSettings): DatabaseBackend {
  if (settings.kind === "neon") {
    if (!settings.apiKey) throw new Error("the neon backend needs an API key: `pulumi config set --secret bloom:neonApiKey <key>` (or NEON_API_KEY for the CLI)");
    return new NeonBackend({ apiKey: settings.apiKey, apiBaseUrl: settings.apiBaseUrl, orgId: settings.orgId });
  }
  const serverUrl = localServerUrl(settings);
  const pooler = settings.poolerPort ? { port: settings.poolerPort, stateDir: poolerStateDir(path.resolve(__dirname, "..", "..", ".bloom"), settings.poolerPort) } : undefined;
  return new LocalPostgresBackend(serverUrl, pooler);
}

/** The local backend's server: the configured one, else the embedded server (started if it is down). */
export function localServerUrl(settings: Extract<BackendSettings, { kind: "local" }>): string {
  return settings.serverUrl ?? ensureEmbeddedServer(settings.embeddedDataDir ?? DEFAULT_EMBEDDED_DATA_DIR).url;
}
