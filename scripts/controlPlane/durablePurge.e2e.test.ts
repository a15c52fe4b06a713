import { rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { purgeProgressOf, withControlPlane } from "../../infra/controlPlane/client";
import { builtTemporalCli, ensureTemporalDevServer, stopTemporalDevServer, temporalDevServerRunning } from "../../infra/controlPlane/temporalDevServer";
import { findEngine } from "../engine/engineLocation";
import { openStackContext, type StackContext } from "../runbook/stackContext";
import { tenantHandle } from "../runbook/tenantStackAccess";
import { e2eStackFile, tearDownTenantE2e } from "../../test/e2eStack";
import { runBloom } from "../../test/bloomCli";
import { query, requirePostgres, uniqueName } from "../../test/postgres";
import { fingerprint } from "../../test/tenantFixtures";
import { ensureLocalWorker, localWorkerRunning, stopLocalWorker } from "./localWorker";

/**
 * The durable purge (issue 19): `bloom tenants extract --grace 45s` hands the old copy's purge to the control plane
 * (a `purgeMovedCopy` workflow with a durable timer on the local Temporal dev server, run by the local worker the
 * CLI starts) and exits. Mid-timer, the dev server and the worker are both killed with -9; the server restarts on
 * its file and a new worker process starts. The pool's copy is purged when the grace ends, with no command run —
 * and not before. The CLI process is long gone by then: nothing in it could have done the purge.
 */
const engine = findEngine();
const mustRun = process.env.CI === "true";
const ofTenant = (fp: Record<string, string>, t: string) => Object.fromEntries(Object.entries(fp).filter(([k]) => k.endsWith(`:${t}`) && !k.startsWith("clinic:")));

describe.skipIf((!engine || !builtTemporalCli()) && !mustRun)("a move's purge on the control plane: a durable timer, no command", () => {
  const stackName = uniqueName("e2e-purge");
  const tenant = uniqueName("dur").slice(0, 24);
  const port = 19_000 + Math.floor(Math.random() * 300) * 3;
  const previousPort = process.env.BLOOM_TEMPORAL_PORT;
  let root = "", dir = "", configFile = "", kvPort = 0, pool = "";
  let ctx: StackContext;

  beforeAll(async () => {
    if (!engine || !builtTemporalCli()) throw new Error("CI=true and no Pulumi CLI or Temporal CLI: `npm run setup:pulumi` and `npm run setup:temporal` must run before the e2e suite");
    await requirePostgres();
    process.env.BLOOM_TEMPORAL_PORT = String(port); // the CLI and its worker (children) use this test's dev server
    ({ root, dir, configFile, kvPort } = await e2eStackFile(stackName, (config) => {
      config["bloom:tenants"] = [...(config["bloom:tenants"] as object[]), { id: tenant, name: "Durable Clinic", tier: "enterprise", isolation: "pooled" }];
    }));
    ctx = await openStackContext({ stackName, configFile, root });
    pool = (await ctx.stack.up()).outputs.migratorDatabaseUrl!.value as string;
    await query(pool, `INSERT INTO "patient" (id, name, clinic_id) SELECT 'p' || i, 'P' || i, $1 FROM generate_series(1, 300) i`, [tenant]);
  }, 300_000);
  afterAll(async () => {
    stopLocalWorker(port, { kill: true });
    stopTemporalDevServer({ port, kill: true });
    rmSync(path.join(REPO_ROOT, ".bloom", "temporal", `temporal-${port}.db`), { force: true });
    if (previousPort === undefined) delete process.env.BLOOM_TEMPORAL_PORT;
    else process.env.BLOOM_TEMPORAL_PORT = previousPort;
    await tearDownTenantE2e(ctx, tenant, { dir, root, kvPort });
  });

  it("purges the pool's copy when the grace ends, across a kill -9 of the server and the worker, with no command run", async () => {
    const before = ofTenant(await fingerprint(pool), tenant);
    expect(Object.keys(before).length).toBeGreaterThan(0);
    const extract = await runBloom({ stackName, configFile, root }, ["tenants", "extract", tenant, "--grace", "45s", "--yes"]);
    const workflowId = /purged by the control plane with no command \(workflow (\S+)\)/.exec(extract.output)?.[1];
    expect(workflowId, extract.output).toBeDefined();
    expect(extract.output).toMatch(/started the local control-plane worker/);
    const pending = (await query<{ after: string }>(pool, `SELECT pending_purge->>'after' AS after FROM bloom_platform.tenants WHERE id = $1`, [tenant]))[0]!.after;
    // Still within the grace period: the copy is there, and the status says who will purge it.
    expect(ofTenant(await fingerprint(pool), tenant)).toEqual(before);
    const statusLine = async () => (await runBloom({ stackName, configFile, root }, ["tenants", "status"])).output.split("\n").find((l) => l.startsWith(tenant)) ?? "";
    expect(await statusLine()).toContain(`purge due ${pending}, scheduled on the control plane (workflow ${workflowId})`);

    // Both die mid-timer; the history is in the server's file.
    expect(localWorkerRunning(port)).toBe(true);
    expect(stopLocalWorker(port, { kill: true })).toBe(true);
    expect(stopTemporalDevServer({ port, kill: true })).toBe(true);
    for (let i = 0; i < 40 && temporalDevServerRunning({ port }); i++) await new Promise((r) => setTimeout(r, 250));
    await new Promise((r) => setTimeout(r, 500));
    expect(await statusLine()).toContain("the control plane is stopped here: a scheduled purge waits until a move or `bloom worker` starts it again");
    const server = await ensureTemporalDevServer({ port });
    expect(server.started).toBe(true);
    const endpoint = { address: server.address, namespace: "default", local: true };
    const worker = await ensureLocalWorker(endpoint);
    expect(worker.started).toBe(true);
    // A query is answered by a worker replaying the history: the timer survived.
    expect(await withControlPlane(endpoint, (c) => purgeProgressOf(c, workflowId!))).toEqual({ step: "waiting", until: pending });
    expect(ofTenant(await fingerprint(pool), tenant)).toEqual(before);

    let progress: Awaited<ReturnType<typeof purgeProgressOf>> = { step: "waiting" };
    for (let i = 0; i < 180 && progress.step !== "done"; i++) {
      await new Promise((r) => setTimeout(r, 500));
      progress = await withControlPlane(endpoint, (c) => purgeProgressOf(c, workflowId!));
    }
    expect(progress).toMatchObject({ step: "done", outcome: { purged: true, rows: 300 } }); // the tenant's 300 patients, its only rows
    const outcome = (progress as { outcome: { at: string } }).outcome;
    expect(Date.parse(outcome.at)).toBeGreaterThanOrEqual(Date.parse(pending)); // not before the grace ended
    expect(ofTenant(await fingerprint(pool), tenant)).toEqual({});
    expect(await query(pool, `SELECT pending_purge FROM bloom_platform.tenants WHERE id = $1`, [tenant])).toEqual([{ pending_purge: null }]);
    const dedicated = (await (await tenantHandle(ctx, tenant).openStack()).outputs()).migratorDatabaseUrl!.value as string;
    expect(ofTenant(await fingerprint(dedicated), tenant)).toEqual(before);
  }, 300_000);
});
