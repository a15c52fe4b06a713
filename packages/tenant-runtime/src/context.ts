import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The tenant of the unit of work, carried in AsyncLocalStorage so deeper code needs no parameter threading. The
 * database hears of it per transaction only (`set_config('app.clinic_id', …, true)`), never per session: behind a
 * transaction pooler a session setting would reach whichever client gets that server connection next.
 */
export class MissingTenantError extends Error {
  constructor(readonly what: string) {
    super(`${what}: no tenant in context; wrap the unit of work in runWithTenant(pool, clinicId, fn) or withTenantContext(clinicId, fn)`);
    this.name = "MissingTenantError";
  }
}

export class TenantContextConflictError extends Error {
  constructor(readonly outer: string, readonly inner: string) {
    super(`tenant "${inner}" asked for inside the unit of work of tenant "${outer}": one unit of work serves one tenant`);
    this.name = "TenantContextConflictError";
  }
}

export interface TenantScope<C = unknown> {
  clinicId: string;
  /** The open transaction of this unit of work (runWithTenant); absent in a context-only scope (withTenantContext). */
  client?: C;
}

// One store per process even when both builds (CommonJS and ES modules) of this package are loaded: a tenant set
// through one must be seen through the other.
const SCOPE_KEY = Symbol.for("@bloom/tenant-runtime/scope");
const holder = globalThis as { [SCOPE_KEY]?: AsyncLocalStorage<TenantScope> };
const scope = (holder[SCOPE_KEY] ??= new AsyncLocalStorage<TenantScope>());

/** The tenant of the unit of work this code runs in, if any. */
export function currentTenant(): string | undefined {
  return scope.getStore()?.clinicId;
}

/** The tenant of the current unit of work, or a MissingTenantError naming what needed it. */
export function requireTenant(what: string): string {
  const clinicId = currentTenant();
  if (!clinicId) throw new MissingTenantError(what);
  return clinicId;
}

export function assertTenantId(clinicId: unknown, what: string): asserts clinicId is string {
  if (typeof clinicId !== "string" || clinicId.trim() === "") throw new MissingTenantError(what);
}

/** The scope a new unit of work for `clinicId` joins: the current one when it is the same tenant, else a fresh one. */
export function scopeFor(clinicId: string): TenantScope | undefined {
  const outer = scope.getStore();
  if (outer && outer.clinicId !== clinicId) throw new TenantContextConflictError(outer.clinicId, clinicId);
  return outer;
}

export function runInScope<T>(s: TenantScope, fn: () => T): T {
  return scope.run(s, fn);
}

export function outerScope(): TenantScope | undefined {
  return scope.getStore();
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as { then?: unknown } | null)?.then === "function";

/**
 * The tenant in context for `fn`, without opening a transaction: for code whose queries set it themselves (the
 * Prisma client of `createTenantPrisma`). `fn` may be async or return a lazy thenable (a Prisma query runs only when
 * awaited): the thenable is awaited inside the context, so a sync arrow keeps its tenant.
 */
export function withTenantContext<T>(clinicId: string, fn: () => T): T extends PromiseLike<infer U> ? Promise<U> : T;
export function withTenantContext(clinicId: string, fn: () => unknown): unknown {
  assertTenantId(clinicId, "withTenantContext(clinicId)");
  const outer = scopeFor(clinicId);
  const s: TenantScope = { clinicId, client: outer?.client };
  return scope.run(s, () => {
    const out = fn();
    return isThenable(out) ? (async () => await out)() : out;
  });
}
