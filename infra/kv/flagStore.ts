import os from "node:os";
import type { Redis } from "@upstash/redis";
import { flagKeys, resolveFlag } from "@bloom/tenant-runtime/limiter";

/**
 * Feature flags in the key-value store (Upstash, or Redis behind the local REST endpoint). Layout, under a
 * per-stack prefix:
 *   <p>flag:<name>        hash   default → "true"|"false", tenant:<id> → "true"|"false", description
 *   <p>flag:<name>:kill   string "1" while the kill switch is on (outside stack config: an emergency lever)
 *   <p>flags              set    declared flag names
 *   <p>flags:audit        list   newest first: { at, actor, source, flag, scope, old, new }
 */
export interface FlagDeclaration {
  name: string;
  default: boolean;
  /** Omitted: the tenant overrides are left as they are (each tenant writes its own: writeTenantOverrides). */
  tenants?: Record<string, boolean>;
  description?: string;
}

export interface FlagState {
  name: string;
  default: boolean | undefined;
  tenants: Record<string, boolean>;
  killed: boolean;
  description?: string;
}

export interface AuditEntry {
  at: string;
  actor: string;
  source: string;
  flag: string;
  scope: string;
  old: boolean | null;
  new: boolean | null;
}

export const AUDIT_LIMIT = 10_000;

// The layout is the app's contract too: one definition, in the runtime package the app installs.
export { flagKeys, resolveFlag };
const auditKey = (prefix: string) => flagKeys(prefix, "").audit;

const asBool = (v: unknown): boolean | undefined => (v === true || v === "true" ? true : v === false || v === "false" ? false : undefined);

export async function readFlag(redis: Redis, prefix: string, name: string): Promise<FlagState> {
  const k = flagKeys(prefix, name);
  const [hash, kill] = await Promise.all([redis.hgetall<Record<string, unknown>>(k.flag), redis.get(k.kill)]);
  const tenants: Record<string, boolean> = {};
  for (const [field, value] of Object.entries(hash ?? {})) {
    const b = asBool(value);
    if (field.startsWith("tenant:") && b !== undefined) tenants[field.slice("tenant:".length)] = b;
  }
  const description = hash?.description;
  return { name, default: asBool(hash?.default), tenants, killed: kill !== null && kill !== undefined, description: description === undefined || description === null ? undefined : String(description) };
}

export async function listFlagNames(redis: Redis, prefix: string): Promise<string[]> {
  return (await redis.smembers(`${prefix}flags`)).map(String).sort();
}

/** Every (scope, old, new) that differs between what the store holds and what is declared. */
export function flagChanges(current: FlagState, wanted: FlagDeclaration): { scope: string; old: boolean | null; new: boolean | null }[] {
  const changes: { scope: string; old: boolean | null; new: boolean | null }[] = [];
  if (current.default !== wanted.default) changes.push({ scope: "default", old: current.default ?? null, new: wanted.default });
  const tenants = wanted.tenants;
  if (!tenants) return changes;
  for (const id of new Set([...Object.keys(current.tenants), ...Object.keys(tenants)])) {
    const was = current.tenants[id];
    const now = tenants[id];
    if (was !== now) changes.push({ scope: `tenant:${id}`, old: was ?? null, new: now ?? null });
  }
  return changes;
}

/**
 * Makes the store hold exactly `wanted` for this flag (its tenant overrides too, unless `wanted.tenants` is
 * omitted), atomically, with one audit entry per changed value.
 */
export async function writeFlag(redis: Redis, prefix: string, wanted: FlagDeclaration, actor: string, source: string): Promise<AuditEntry[]> {
  const k = flagKeys(prefix, wanted.name);
  const current = await readFlag(redis, prefix, wanted.name);
  const at = new Date().toISOString();
  const entries = flagChanges(current, wanted).map((c) => ({ at, actor, source, flag: wanted.name, ...c }));
  const tx = redis.multi();
  tx.sadd(k.names, wanted.name);
  const set: Record<string, string> = { default: String(wanted.default) };
  const tenants = wanted.tenants;
  for (const [id, value] of Object.entries(tenants ?? {})) set[`tenant:${id}`] = String(value);
  if (wanted.description) set.description = wanted.description;
  tx.hset(k.flag, set);
  const stale = tenants ? Object.keys(current.tenants).filter((id) => !(id in tenants)).map((id) => `tenant:${id}`) : [];
  if (!wanted.description && current.description !== undefined) stale.push("description");
  if (stale.length) tx.hdel(k.flag, ...stale);
  if (entries.length) {
    tx.lpush(k.audit, ...entries.map((e) => JSON.stringify(e)));
    tx.ltrim(k.audit, 0, AUDIT_LIMIT - 1);
  }
  await tx.exec();
  return entries;
}

export async function deleteFlag(redis: Redis, prefix: string, name: string, actor: string, source: string): Promise<void> {
  const k = flagKeys(prefix, name);
  const current = await readFlag(redis, prefix, name);
  const at = new Date().toISOString();
  const entries = flagChanges(current, { name, default: undefined as unknown as boolean, tenants: {} })
    .map((c) => ({ at, actor, source, flag: name, ...c, new: null }));
  const tx = redis.multi();
  tx.del(k.flag, k.kill);
  tx.srem(k.names, name);
  if (entries.length) tx.lpush(k.audit, ...entries.map((e) => JSON.stringify(e)));
  await tx.exec();
}

/**
 * Makes one tenant's overrides across every declared flag exactly `wanted` (flag → value; a flag absent there loses
 * this tenant's override), atomically, with one audit entry per changed value. A flag not (yet) declared is refused:
 * an override on it would resurrect a deleted flag's hash.
 */
export async function writeTenantOverrides(redis: Redis, prefix: string, tenantId: string, wanted: Record<string, boolean>, actor: string, source: string): Promise<AuditEntry[]> {
  const current = await readTenantOverrides(redis, prefix, tenantId);
  const undeclared = Object.keys(wanted).filter((flag) => !current.declared.has(flag));
  if (undeclared.length) throw new Error(`tenant ${tenantId}: override on flag(s) not in the store: ${undeclared.join(", ")}; declare them under bloom:flags`);
  const at = new Date().toISOString();
  const field = `tenant:${tenantId}`;
  const entries: AuditEntry[] = [];
  const tx = redis.multi();
  for (const flag of new Set([...Object.keys(current.overrides), ...Object.keys(wanted)])) {
    const was = current.overrides[flag];
    const now = wanted[flag];
    if (was === now) continue;
    entries.push({ at, actor, source, flag, scope: field, old: was ?? null, new: now ?? null });
    if (now === undefined) tx.hdel(flagKeys(prefix, flag).flag, field);
    else tx.hset(flagKeys(prefix, flag).flag, { [field]: String(now) });
  }
  if (!entries.length) return entries;
  const audit = auditKey(prefix);
  tx.lpush(audit, ...entries.map((e) => JSON.stringify(e)));
  tx.ltrim(audit, 0, AUDIT_LIMIT - 1);
  await tx.exec();
  return entries;
}

/** One tenant's overrides as the store holds them, over every declared flag (one pipelined round trip per call). */
export async function readTenantOverrides(redis: Redis, prefix: string, tenantId: string): Promise<{ overrides: Record<string, boolean>; declared: ReadonlySet<string> }> {
  const names = await listFlagNames(redis, prefix);
  const overrides: Record<string, boolean> = {};
  if (!names.length) return { overrides, declared: new Set() };
  const pipe = redis.pipeline();
  for (const name of names) pipe.hget(flagKeys(prefix, name).flag, `tenant:${tenantId}`);
  const values = await pipe.exec<unknown[]>();
  names.forEach((name, i) => {
    const b = asBool(values[i]);
    if (b !== undefined) overrides[name] = b;
  });
  return { overrides, declared: new Set(names) };
}

/** The kill switch: the flag reads false for everyone until it is released, whatever its declared values. */
export async function setKillSwitch(redis: Redis, prefix: string, name: string, on: boolean, actor: string): Promise<void> {
  const k = flagKeys(prefix, name);
  const was = (await redis.get(k.kill)) !== null;
  if (was === on) return;
  const entry: AuditEntry = { at: new Date().toISOString(), actor, source: "bloom flags kill", flag: name, scope: "kill", old: was, new: on };
  const tx = redis.multi();
  if (on) tx.set(k.kill, "1");
  else tx.del(k.kill);
  tx.lpush(k.audit, JSON.stringify(entry));
  tx.ltrim(k.audit, 0, AUDIT_LIMIT - 1);
  await tx.exec();
}

export async function flagHistory(redis: Redis, prefix: string, name?: string, limit = 50): Promise<AuditEntry[]> {
  const raw = await redis.lrange<AuditEntry | string>(auditKey(prefix), 0, name ? AUDIT_LIMIT - 1 : limit - 1);
  const entries = raw.map((e) => (typeof e === "string" ? (JSON.parse(e) as AuditEntry) : e));
  return (name ? entries.filter((e) => e.flag === name) : entries).slice(0, limit);
}

/** One tenant's overrides among declared flags (config shape: flag → { tenants: { id → value } }). */
export function flagOverridesOf(flags: Record<string, { tenants?: Record<string, boolean> }>, tenantId: string): Record<string, boolean> {
  const overrides: Record<string, boolean> = {};
  for (const [flag, decl] of Object.entries(flags)) {
    const value = decl.tenants?.[tenantId];
    if (value !== undefined) overrides[flag] = value;
  }
  return overrides;
}


/** Who a store change is attributed to in the audit trail: BLOOM_ACTOR (CI sets it), else the OS user, at this host. */
export function currentActor(): string {
  return `${process.env.BLOOM_ACTOR ?? os.userInfo().username}@${os.hostname()}`;
}
