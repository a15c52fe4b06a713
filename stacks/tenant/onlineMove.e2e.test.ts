import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverAdminUrl } from "../../infra/database/local/localPostgresBackend";
import { poolerStateDir, stopPooler } from "../../infra/database/local/pgbouncer";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { withClient } from "../../infra/database/sql/withClient";
import { moveReplicationLeftovers } from "../../infra/tenancy/move/replication";
import { findEngine } from "../../scripts/engine/engineLocation";
import { ensureLogicalTestPostgres } from "../../scripts/services/ensurePostgres";
import { openStackContext, type StackContext } from "../../scripts/runbook/stackContext";
import { moveTenantCommand } from "../../scripts/runbook/tenantCommands";
import { tenantHandle } from "../../scripts/runbook/tenantStackAccess";
import { runBloom } from "../../test/bloomCli";
import { e2eStackFile, tearDownTenantE2e } from "../../test/e2eStack";
import { freePort } from "../../test/kvPort";
import { query, uniqueName } from "../../test/postgres";
import { TenantWriter, writerRows } from "../../test/tenantWriter";

/**
 * `bloom tenants extract|return <id> --online` on the real engine, on a stack whose server the harness runs with
 * wal_level = logical: the tenant's stack is provisioned, its rows stream while an app-like writer keeps writing
 * through the app's contract, and every acknowledged write is at its home after each move; no replication object
 * is left. The dry run reports the server's readiness.
 */
const engine = findEngine();
const mustRun = process.env.CI === "true";

describe.skipIf(!engine && !mustRun)("online tenant moves through the runbook CLI on the real engine", () => {
  const stackName = uniqueName("e2e-ol");
  const tenant = uniqueName("onl").slice(0, 24);
  let root = "", dir = "", configFile = "";
  let kvPort = 0, poolerPort = 0;
  let serverUrl = "";
  let ctx: StackContext;
  let pool = "", poolApp = "";

  beforeAll(async () => {
    if (!engine) throw new Error("CI=true and no Pulumi CLI was found: `npm run setup:pulumi` must run before the e2e suite");
    serverUrl = await ensureLogicalTestPostgres();
    poolerPort = await freePort();
    ({ root, dir, configFile, kvPort } = await e2eStackFile(stackName, (config) => {
      config["bloom:database"] = { backend: "local", local: { serverUrl, poolerPort } };
      config["bloom:tenants"] = [...(config["bloom:tenants"] as object[]), { id: tenant, name: "Online Clinic", tier: "enterprise", isolation: "pooled" }];
    }));
    ctx = await openStackContext({ stackName, configFile, root });
    const res = await ctx.stack.up();
    pool = res.outputs.migratorDatabaseUrl!.value as string;
    poolApp = res.outputs.appDatabaseUrl!.value as string;
    await query(pool, `INSERT INTO "patient" (id, name, clinic_id) SELECT 'p' || i, 'P' || i, $1 FROM generate_series(1, 2000) i`, [tenant]);
  }, 240_000);
  afterAll(async () => {
    await tearDownTenantE2e(ctx, tenant, { dir, root, kvPort });
    stopPooler(poolerStateDir(path.join(REPO_ROOT, ".bloom"), poolerPort));
  });


  it("extract --online, then return --online, while the tenant writes: every acknowledged write at home, no slot, publication or subscription left", async () => {
    const said: string[] = [];
    await moveTenantCommand(ctx, tenant, "extract", { dryRun: true, online: true, graceMs: 0, say: (l) => said.push(l) });
    expect(said.join("\n")).toMatch(/source server: wal_level logical, slots and senders free/);
    const dedicatedAppUrl = async () => ((await (await tenantHandle(ctx, tenant).openStack()).outputs()).appDatabaseUrl!.value as string);
    const writer = new TenantWriter(tenant, { poolAppUrl: poolApp, dedicatedAppUrl, writesPerSecond: 50, seed: 3 }).start();
    const stack = { stackName, configFile, root };
    const extract = await runBloom(stack, ["tenants", "extract", tenant, "--online", "--grace", "0", "--yes"]);
    expect(extract.output).toMatch(/streaming 7 tables/);
    expect(extract.output).toMatch(/write freeze: \d+\.\d+ s \(fence → cutover; confirm/);
    await new Promise((r) => setTimeout(r, 1_500));
    const dedicated = (await (await tenantHandle(ctx, tenant).openStack()).outputs()).migratorDatabaseUrl!.value as string;
    const back = await runBloom(stack, ["tenants", "return", tenant, "--online", "--grace", "0", "--yes"]);
    expect(back.output).toMatch(/done: \d+ rows moved online/);
    await new Promise((r) => setTimeout(r, 1_000));
    const stats = await writer.stop();
    expect(await writerRows(pool, tenant)).toEqual(writer.model);
    expect(stats.refused, "the freezes refused some writes, which were retried").toBeGreaterThan(0);
    expect(await query(pool, `SELECT count(*)::int AS n FROM "patient" WHERE clinic_id = $1 AND id LIKE 'p%'`, [tenant])).toEqual([{ n: 2000 }]);
    expect(await query(dedicated, `SELECT count(*)::int AS n FROM "patient" WHERE clinic_id = $1`, [tenant])).toEqual([{ n: 0 }]); // purged (--grace 0)
    // Both directions ran: each database was a source once and a target once.
    const left = await withClient(serverAdminUrl(serverUrl, pool), (p) => withClient(serverAdminUrl(serverUrl, dedicated), async (d) =>
      [...(await moveReplicationLeftovers(p, d)), ...(await moveReplicationLeftovers(d, p))]));
    expect(left).toEqual([]);
  }, 300_000);
});
