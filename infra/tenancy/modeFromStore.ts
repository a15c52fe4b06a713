import { connectKv } from "../kv/kvDatabase";
import { readFlag, resolveFlag } from "../kv/flagStore";
import { modeForFlag, setTenancyMode, type TenancyMode } from "./rlsModes";

/** Where the flag store is: the stack outputs kvRestUrl, kvRestToken (the platform's admin token) and kvKeyPrefix. */
export interface StoreAccess {
  restUrl: string;
  restToken: string;
  prefix: string;
}

/**
 * The one writer of the database's RLS mode: `tenancy_enabled` as the flag store resolves it now — kill switch, then
 * the declared default — mapped to shadow/enforce and written to each database. `pulumi up` (TenancyMode resource,
 * pool and tenant stacks) and the runbook (`flags kill|unkill|set tenancy_enabled`, `tenancy sync`) both call it,
 * so an `up` after a kill reads the kill and keeps the database in shadow.
 */
export async function applyTenancyModeFromStore(store: StoreAccess, migratorUrls: string[]): Promise<{ mode: TenancyMode; previous: TenancyMode[] }> {
  const redis = await connectKv(store.restUrl, store.restToken);
  const mode = modeForFlag(resolveFlag(await readFlag(redis, store.prefix, "tenancy_enabled")));
  const previous: TenancyMode[] = [];
  for (const url of migratorUrls) previous.push(await setTenancyMode(url, mode));
  return { mode, previous };
}
