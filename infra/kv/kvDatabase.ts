import { Redis } from "@upstash/redis";
import { ensureLocalRestEndpoint, reviveLocalEndpoint } from "./localEndpoint";
import { upstashApi } from "./upstashDeveloperApi";
import { ensureStoreRedis } from "./localRedis";

/** Where an environment's key-value store lives; carried as a secret input (it may hold an API key). */
export type KvSettings =
  /** `redisUrl` absent: the local stack's own redis-server (localRedis.ts). */
  | { kind: "local"; redisUrl?: string | null; port?: number }
  | { kind: "upstash"; email: string; apiKey: string; primaryRegion: string; readRegions?: string[]; apiBaseUrl?: string };

export interface KvDatabase {
  databaseId: string;
  /** Upstash REST URL (or the local endpoint's). */
  restUrl: string;
  restToken: string;
}

export async function ensureKvDatabase(settings: KvSettings, name: string): Promise<KvDatabase> {
  if (settings.kind === "local") {
    const endpoint = await ensureLocalRestEndpoint({ redisUrl: settings.redisUrl ?? undefined, port: settings.port });
    const host = settings.redisUrl ? new URL(settings.redisUrl).host : `127.0.0.1:${(await ensureStoreRedis()).port}`;
    return { databaseId: `local:${host}`, restUrl: endpoint.url, restToken: endpoint.token };
  }
  const db = await upstashApi(settings).ensureDatabase({ name, primaryRegion: settings.primaryRegion, readRegions: settings.readRegions });
  return { databaseId: db.database_id, restUrl: `https://${db.endpoint}`, restToken: db.rest_token };
}

/** Locally the Redis is shared by stacks, so only the stack's own keys go (their resources delete them). */
export async function deleteKvDatabase(settings: KvSettings, databaseId: string): Promise<void> {
  if (settings.kind === "upstash") await upstashApi(settings).deleteDatabase(databaseId);
}

export async function kvDatabaseExists(settings: KvSettings, databaseId: string): Promise<boolean> {
  return settings.kind === "local" ? true : (await upstashApi(settings).getDatabase(databaseId)) !== undefined;
}

export function kvClient(restUrl: string, restToken: string): Redis {
  return new Redis({ url: restUrl, token: restToken, enableTelemetry: false });
}

/** A client for a store, restarting the local endpoint first if it is one of ours and has gone away. */
export async function connectKv(restUrl: string, restToken: string): Promise<Redis> {
  await reviveLocalEndpoint(restUrl);
  return kvClient(restUrl, restToken);
}
