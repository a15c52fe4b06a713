import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { withControlPlane } from "../../infra/controlPlane/client";
import { deployMigrationsWorkflowId, moveWorkflowId, stackSyncWorkflowId, syncFleetWorkflowId } from "../../infra/controlPlane/contract";
import { builtTemporalCli, ensureTemporalDevServer, stopTemporalDevServer } from "../../infra/controlPlane/temporalDevServer";
import { processAlive } from "../../infra/processes";
import { findEngine } from "../engine/engineLocation";
import { openStackContext, type StackContext } from "../runbook/stackContext";
import { tenantHandle } from "../runbook/tenantStackAccess";
import { e2eStackFile, tearDownTenantE2e } from "../../test/e2eStack";
import { runBloom } from "../../test/bloomCli";
import { query, requirePostgres, uniqueName } from "../../test/postgres";
import { fingerprint } from "../../test/tenantFixtures";
import { localWorkerLog, stopLocalWorker } from "./localWorker";

/**
 * A move on the control plane (issue 19): `bloom tenants extract --workflow` starts the `moveTenant` workflow and
 * follows it. Two workers poll (the local one the CLI starts, and a second process). The worker running the move's
 * first activity (the platform's and the tenant stack's `up`) is killed with -9, its process group with it; the
 * other worker takes the activity over once the heartbeat timeout (5 s here) passes, resumes the move from the
 * catalog's journal and finishes it. The CLI, which only follows, prints the outcome; the old copy's purge (grace 0)
 * is the child workflow. Rows identical at the new home, none left in the pool, no command run by hand. Then the
 * return, with the Temporal server killed mid-workflow and restarted on its file: the move completes. Then a second
 * extract whose worker is frozen (SIGSTOP) mid-copy, past the heartbeat timeout: the other worker takes the move's
 * lease over and finishes it; resumed, the frozen worker's attempt is refused by its stale fencing token, and the
 * worker lives on. Last, `tenants sync --workflow` brings the tenant's stack up through a child workflow, and
 * `migrate deploy --all --workflow` deploys the pool and the tenant's database as activities.
 */
const engine = findEngine();
const mustRun = process.env.CI === "true";
const ofTenant = (fp: Record<string, string>, t: string) => Object.fromEntries(Object.entries(fp).filter(([k]) => k.endsWith(`:${t}`) && !k.startsWith("clinic:")));

describe.skipIf((!engine || !builtTemporalCli()) && !mustRun)("a move on the control plane: a worker killed mid-activity, another finishes it", () => {
  const stackName = uniqueName("e2e-move");
  const tenant = uniqueName("wfm").slice(0, 24);
  const port = 20_000 + Math.floor(Math.random() * 300) * 3;
  const saved = { port: process.env.BLOOM_TEMPORAL_PORT, heartbeat: process.env.BLOOM_MOVE_HEARTBEAT_TIMEOUT_S };
  let root = "", dir = "", configFile = "", kvPort = 0, pool = "";
  let ctx: StackContext;
  let second: ChildProcess | undefined;
  const secondLog = path.join(REPO_ROOT, ".bloom", "temporal", `second-worker-${port}.log`);

  beforeAll(async () => {
    if (!engine || !builtTemporalCli()) throw new Error("CI=true and no Pulumi CLI or Temporal CLI: `npm run setup:pulumi` and `npm run setup:temporal` must run before the e2e suite");
    await requirePostgres();
    process.env.BLOOM_TEMPORAL_PORT = String(port);
    process.env.BLOOM_MOVE_HEARTBEAT_TIMEOUT_S = "5";
    ({ root, dir, configFile, kvPort } = await e2eStackFile(stackName, (config) => {
      config["bloom:tenants"] = [...(config["bloom:tenants"] as object[]), { id: tenant, name: "Workflow Clinic", tier: "enterprise", isolation: "pooled" }];
    }));
    ctx = await openStackContext({ stackName, configFile, root });
    pool = (await ctx.stack.up()).outputs.migratorDatabaseUrl!.value as string;
    await query(pool, `INSERT INTO "patient" (id, name, clinic_id) SELECT 'p' || i, 'P' || i, $1 FROM generate_series(1, 300) i`, [tenant]);
    await ensureTemporalDevServer({ port });
    await startSecondWorker();
  }, 300_000);
  /** The second worker (the first is the local one the CLI starts, and starts again when it is gone). */
  async function startSecondWorker(): Promise<void> {
    const from = existsSync(secondLog) ? readFileSync(secondLog, "utf8").length : 0;
    second = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "scripts", "bloom.ts"), "worker", "--address", `127.0.0.1:${port}`],
      { cwd: REPO_ROOT, detached: true, stdio: ["ignore", openSync(secondLog, "a"), openSync(secondLog, "a")] });
    for (let i = 0; i < 240 && !/worker polling/.test(readFileSync(secondLog, "utf8").slice(from)); i++) await new Promise((r) => setTimeout(r, 250));
    expect(readFileSync(secondLog, "utf8").slice(from)).toMatch(/worker polling/);
  }
  afterAll(async () => {
    if (second?.pid && processAlive(second.pid)) process.kill(-second.pid, "SIGKILL");
    stopLocalWorker(port, { kill: true });
    stopTemporalDevServer({ port, kill: true });
    rmSync(path.join(REPO_ROOT, ".bloom", "temporal", `temporal-${port}.db`), { force: true });
    rmSync(secondLog, { force: true });
    for (const [k, v] of [["BLOOM_TEMPORAL_PORT", saved.port], ["BLOOM_MOVE_HEARTBEAT_TIMEOUT_S", saved.heartbeat]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await tearDownTenantE2e(ctx, tenant, { dir, root, kvPort });
  });

  it("the worker running the move dies with -9 mid-activity; the other finishes it; the CLI follows to the outcome", async () => {
    const before = ofTenant(await fingerprint(pool), tenant);
    expect(Object.keys(before).length).toBeGreaterThan(0);
    const endpoint = { address: `127.0.0.1:${port}`, namespace: "default", local: true };
    const workflowId = moveWorkflowId(stackName, tenant);
    const following = runBloom({ stackName, configFile, root }, ["tenants", "extract", tenant, "--workflow", "--grace", "0", "--yes"]);

    // The worker that holds the first activity, by the identity the SDK gives it (pid@host): killed with its group.
    let victim = 0;
    for (let i = 0; i < 240 && !victim; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const pending = await withControlPlane(endpoint, (c) => c.workflow.getHandle(workflowId).describe()).then((d) => d.raw.pendingActivities ?? []).catch(() => []);
      const identity = pending.find((a) => a.lastWorkerIdentity)?.lastWorkerIdentity;
      if (identity) victim = Number(identity.split("@")[0]);
    }
    expect(victim).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 3_000)); // inside the engine's `up`
    process.kill(-victim, "SIGKILL");

    const { output } = await following;
    expect(output).toContain(`control plane: the extract of ${tenant} runs as workflow ${workflowId}`);
    expect(output).toMatch(/done: 300 rows moved on the control plane/);

    const history = await withControlPlane(endpoint, (c) => c.workflow.getHandle(workflowId).fetchHistory());
    // The history keeps an activity's last attempt: the first activity completed on its second attempt or later,
    // on the other worker.
    const started = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes] : []));
    expect(started.length).toBe(2); // through provision, then the fence through the cutover
    expect(started[0]!.attempt).toBeGreaterThanOrEqual(2);
    expect(started[0]!.identity).not.toMatch(new RegExp(`^${victim}@`));
    expect(processAlive(victim)).toBe(false);
    console.log(`[move on the control plane] killed worker pid ${victim} mid-activity; the first activity completed on attempt ${started[0]!.attempt} by ${started[0]!.identity}; the CLI printed:\n${output.split("\n").filter((l) => /control plane|write freeze|done:/.test(l)).join("\n")}`);

    expect(await query(pool, `SELECT isolation, move FROM bloom_platform.tenants WHERE id = $1`, [tenant])).toEqual([{ isolation: "dedicated", move: null }]);
    const dedicated = (await (await tenantHandle(ctx, tenant).openStack()).outputs()).migratorDatabaseUrl!.value as string;
    expect(ofTenant(await fingerprint(dedicated), tenant)).toEqual(before);
    // Grace 0: the child workflow purges the pool's copy at once.
    for (let i = 0; i < 120 && Object.keys(ofTenant(await fingerprint(pool), tenant)).length; i++) await new Promise((r) => setTimeout(r, 500));
    expect(ofTenant(await fingerprint(pool), tenant)).toEqual({});
  }, 420_000);

  it("the Temporal server killed with -9 mid-move and restarted on its file: the return completes, the CLI follows through", async () => {
    const before = ofTenant(await fingerprint((await (await tenantHandle(ctx, tenant).openStack()).outputs()).migratorDatabaseUrl!.value as string), tenant);
    const endpoint = { address: `127.0.0.1:${port}`, namespace: "default", local: true };
    const workflowId = moveWorkflowId(stackName, tenant);
    const following = runBloom({ stackName, configFile, root }, ["tenants", "return", tenant, "--workflow", "--grace", "0", "--yes"]);
    let running = false;
    for (let i = 0; i < 240 && !running; i++) {
      await new Promise((r) => setTimeout(r, 250));
      running = await withControlPlane(endpoint, (c) => c.workflow.getHandle(workflowId).describe())
        .then((d) => d.status.name === "RUNNING" && Date.parse(d.startTime.toISOString()) > Date.now() - 60_000, () => false);
    }
    expect(running).toBe(true);
    expect(stopTemporalDevServer({ port, kill: true })).toBe(true);
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await ensureTemporalDevServer({ port })).started).toBe(true);

    const { output } = await following;
    expect(output).toMatch(/done: 300 rows moved on the control plane/);
    console.log(`[move on the control plane] server killed and restarted mid-return; the CLI printed:\n${output.split("\n").filter((l) => /control plane|write freeze|done:/.test(l)).join("\n")}`);
    expect(await query(pool, `SELECT isolation, move FROM bloom_platform.tenants WHERE id = $1`, [tenant])).toEqual([{ isolation: "pooled", move: null }]);
    expect(ofTenant(await fingerprint(pool), tenant)).toEqual(before);
  }, 420_000);

  it("the worker running the copy frozen past its heartbeat timeout: the other takes the lease over and finishes; resumed, the frozen one's attempt is refused by its fencing token and the worker lives on", async () => {
    // Two workers again (test one killed one of them: the local one comes back with the next command, this one not).
    if (!second?.pid || !processAlive(second.pid)) await startSecondWorker();
    // Enough rows that the copy takes a few seconds: the freeze lands inside it.
    await query(pool, `INSERT INTO "patient" (id, name, clinic_id) SELECT 'z' || i, 'Z' || i, $1 FROM generate_series(1, 150000) i`, [tenant]);
    const before = ofTenant(await fingerprint(pool), tenant);
    const endpoint = { address: `127.0.0.1:${port}`, namespace: "default", local: true };
    const workflowId = moveWorkflowId(stackName, tenant);
    const following = runBloom({ stackName, configFile, root }, ["tenants", "extract", tenant, "--workflow", "--grace", "0", "--yes"]);

    let step: string | undefined;
    for (let i = 0; i < 6000 && step !== "fence"; i++) {
      await new Promise((r) => setTimeout(r, 20));
      step = (await query<{ step: string | null }>(pool, `SELECT move->>'step' AS step FROM bloom_platform.tenants WHERE id = $1`, [tenant]))[0]?.step ?? undefined;
    }
    expect(step, "the move reached its copy").toBe("fence");
    const pending = await withControlPlane(endpoint, (c) => c.workflow.getHandle(workflowId).describe()).then((d) => d.raw.pendingActivities ?? []);
    const frozen = Number(pending.find((a) => a.lastWorkerIdentity)?.lastWorkerIdentity?.split("@")[0]);
    expect(frozen).toBeGreaterThan(0);
    process.kill(-frozen, "SIGSTOP");
    let output = "";
    try {
      ({ output } = await following);
    } finally {
      process.kill(-frozen, "SIGCONT");
    }
    expect(output).toMatch(/done: \d+ rows moved on the control plane/);
    const history = await withControlPlane(endpoint, (c) => c.workflow.getHandle(workflowId).fetchHistory());
    const started = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes] : []));
    const copying = started.at(-1)!;
    expect(copying.attempt, "the copy's activity completed on a later attempt").toBeGreaterThanOrEqual(2);
    expect(copying.identity).not.toMatch(new RegExp(`^${frozen}@`));

    // Resumed, the frozen worker's attempt learns its token is stale: it stops, and the worker process lives on.
    const logs = () => [localWorkerLog(endpoint), secondLog].map((f) => readFileSync(f, "utf8")).join("\n");
    for (let i = 0; i < 120 && !/lost the move lease/.test(logs()); i++) await new Promise((r) => setTimeout(r, 250));
    const refusal = /the extract of \S+ stopped: this mover lost the move lease[^\n]*/.exec(logs())?.[0];
    expect(refusal, "the resumed worker's attempt says it lost the lease").toBeDefined();
    await new Promise((r) => setTimeout(r, 2_000));
    expect(processAlive(frozen), "the resumed worker is still running").toBe(true);
    console.log(`[move on the control plane] worker pid ${frozen} frozen mid-copy; the copy completed on attempt ${copying.attempt} by ${copying.identity}; resumed, the frozen worker said: ${refusal}`);

    expect(await query(pool, `SELECT isolation, move FROM bloom_platform.tenants WHERE id = $1`, [tenant])).toEqual([{ isolation: "dedicated", move: null }]);
    const dedicated = (await (await tenantHandle(ctx, tenant).openStack()).outputs()).migratorDatabaseUrl!.value as string;
    expect(ofTenant(await fingerprint(dedicated), tenant)).toEqual(before);
  }, 420_000);

  it("tenants sync --workflow: the dedicated tenant's stack is brought up by a child workflow's activity on a worker, and the CLI prints the sync's summary", async () => {
    const { output } = await runBloom({ stackName, configFile, root }, ["tenants", "sync", "--workflow", "--yes"]);
    expect(output).toContain(`control plane: the sync of ${stackName}'s tenant stacks runs as workflow ${syncFleetWorkflowId(stackName)}`);
    expect(output).toMatch(/sync: 1 up, 0 destroyed, 0 refused, 0 failed/);
    const endpoint = { address: `127.0.0.1:${port}`, namespace: "default", local: true };
    const child = await withControlPlane(endpoint, (c) => c.workflow.getHandle(stackSyncWorkflowId(stackName, tenantHandle(ctx, tenant).dedicated.stack)).describe());
    expect(child.status.name).toBe("COMPLETED");
    console.log(`[sync on the control plane] the CLI printed:\n${output.split("\n").filter((l) => /control plane|sync:/.test(l)).join("\n")}`);
  }, 300_000);

  it("migrate deploy --all: --dry-run lists each database's pending migrations and changes nothing; --workflow deploys each database as an activity and prints the direct deploy's lines", async () => {
    const dedicatedStack = tenantHandle(ctx, tenant).dedicated.stack;
    const dry = await runBloom({ stackName, configFile, root }, ["migrate", "deploy", "--all", "--dry-run", "--yes"]);
    expect(dry.output).toMatch(/^pool: 0 pending$/m);
    expect(dry.output).toMatch(new RegExp(`^tenant:${tenant}: 0 pending$`, "m"));
    expect(dry.output).toContain("dry run: no snapshot taken, nothing applied");
    const { output } = await runBloom({ stackName, configFile, root }, ["migrate", "deploy", "--all", "--workflow", "--yes"]);
    expect(output).toContain(`control plane: the migration deploy of ${stackName}'s databases runs as workflow ${deployMigrationsWorkflowId(stackName)}`);
    expect(output).toMatch(/^pool: 0 applied$/m);
    expect(output).toMatch(new RegExp(`^tenant:${tenant}: 0 applied$`, "m"));
    console.log(`[migrations on the control plane] (tenant stack ${dedicatedStack}) the CLI printed:\n${output.split("\n").filter((l) => /control plane|applied/.test(l)).join("\n")}`);
  }, 300_000);
});
