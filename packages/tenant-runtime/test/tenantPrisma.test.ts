import { describe, expect, it } from "vitest";
import { MissingTenantError, withTenantContext, type TenantRouter } from "@bloom/tenant-runtime";
import { createTenantPrisma } from "@bloom/tenant-runtime/prisma";

/** The context-bound client's own behaviour, with a stand-in client (the runtime tests use real Prisma 7). */
describe("createTenantPrisma's context-bound client", () => {
  const router: TenantRouter = { resolveTenantConnection: async (id) => ({ tenantId: id, kind: "pool", url: "postgres://pool", moveState: "settled" }), invalidate: () => undefined };
  const made: string[] = [];
  const runtime = createTenantPrisma({
    router,
    adapterFor: () => ({ provider: "postgres", adapterName: "stand-in", connect: async () => { throw new Error("no database here"); } }),
    createClient: (_adapter, tenantId) => (made.push(tenantId), { tenantId, patient: { tag: `patient of ${tenantId}` }, $disconnect: async () => undefined }),
    maxClients: 2,
  });

  it("resolves the tenant's client when a property is read, one client per tenant, none without a tenant", async () => {
    expect(withTenantContext("a", () => runtime.prisma.patient.tag)).toBe("patient of a");
    expect(withTenantContext("a", () => runtime.prisma.tenantId)).toBe("a");
    expect(withTenantContext("b", () => runtime.prisma.tenantId)).toBe("b");
    expect(made).toEqual(["a", "b"]);
    expect(() => runtime.prisma.patient).toThrow(MissingTenantError);
  });

  it("is no thenable, and a symbol property (Symbol.toStringTag, iteration checks) needs no tenant", async () => {
    expect((runtime.prisma as { then?: unknown }).then).toBeUndefined();
    expect((runtime.prisma as Record<symbol, unknown>)[Symbol.toStringTag]).toBeUndefined();
    expect((runtime.prisma as Record<symbol, unknown>)[Symbol.iterator]).toBeUndefined();
  });

  it("keeps at most maxClients, dropping the least recently used idle one", async () => {
    withTenantContext("c", () => runtime.prisma.tenantId); // a, b, c: a goes
    withTenantContext("a", () => runtime.prisma.tenantId); // a is made again
    expect(made).toEqual(["a", "b", "c", "a"]);
  });
});
