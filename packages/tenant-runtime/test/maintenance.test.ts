import { describe, expect, it } from "vitest";
import { isTenantMaintenanceError, sqlStateOf, TenantStillInMaintenanceError, withMaintenanceRetry } from "@bloom/tenant-runtime";

/** The maintenance error however a client wraps it (the runtime tests see the real ones from pg and Prisma 7). */
describe("isTenantMaintenanceError and withMaintenanceRetry", () => {
  const pgError = { name: "error", code: "BL503", severity: "ERROR", message: "tenant beta is in maintenance" };
  // Prisma 7's shape for a driver error: P2039 / P2010 with the adapter's error (and its SQLSTATE) under meta.
  const prismaError = { name: "PrismaClientKnownRequestError", code: "P2039", meta: { driverAdapterError: { name: "DriverAdapterError", cause: { kind: "postgres", code: "BL503", originalCode: "BL503", severity: "ERROR" } } } };

  it("sees BL503 from pg and through Prisma's wrapper; not a Prisma code, not a Node error code", () => {
    expect(isTenantMaintenanceError(pgError)).toBe(true);
    expect(isTenantMaintenanceError(prismaError)).toBe(true);
    expect(sqlStateOf({ code: "P2039" })).toBeUndefined();
    expect(sqlStateOf(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))).toBeUndefined();
    expect(isTenantMaintenanceError({ code: "23505", severity: "ERROR" })).toBe(false);
    expect(isTenantMaintenanceError(undefined)).toBe(false);
  });

  it("retries only the maintenance error, then gives up with TenantStillInMaintenanceError", async () => {
    let calls = 0;
    const noWait = { backoff: () => 0, sleep: async () => undefined };
    await expect(withMaintenanceRetry(async () => (++calls < 3 ? Promise.reject(pgError) : "done"), noWait)).resolves.toBe("done");
    expect(calls).toBe(3);
    calls = 0;
    await expect(withMaintenanceRetry(async () => { calls++; throw prismaError; }, { ...noWait, attempts: 4 })).rejects.toBeInstanceOf(TenantStillInMaintenanceError);
    expect(calls).toBe(4);
    calls = 0;
    await expect(withMaintenanceRetry(async () => { calls++; throw new Error("other"); }, noWait)).rejects.toThrow("other");
    expect(calls).toBe(1);
  });
});
