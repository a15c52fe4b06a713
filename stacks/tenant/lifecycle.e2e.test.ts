import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import fc from "fast-check";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TENANT_MAINTENANCE_SQLSTATE } from "../../infra/tenancy/tenantFence";
import { findEngine } from "../../scripts/engine/engineLocation";
import { openStackContext, type StackContext } from "../../scripts/runbook/stackContext";
import { moveTenantCommand, purgeCommand } from "../../scripts/runbook/tenantCommands";
import { offboardCommand } from "../../scripts/runbook/offboardCommand";
import { migrateAll, syncTenantStacks } from "../../scripts/runbook/tenantSync";
import { migrateDeploy } from "../../scripts/runbook/migrateCommands";
import { listTenantStacks } from "../../scripts/engine/tenantStack";
import { findOrphanedPlugins } from "../../scripts/engine/staleLocks";
import { verifyExport } from "../../infra/tenancy/offboard/tenantExport";
import { addMigration } from "../../test/migrationFixtures";
import { e2eStackFile, tearDownTenantE2e } from "../../test/e2eStack";
import { runBloom } from "../../test/bloomCli";
import { tenantHandle } from "../../scripts/runbook/tenantStackAccess";
import { query, requirePostgres, uniqueName } from "../../test/postgres";
import { asApp, fingerprint } from "../../test/tenantFixtures";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { PROVIDER_OF_KIND, type DynamicKind } from "../../components/database/providerKinds";

/**
 * The tenant lifecycle on the real engine, as enterprise onboarding runs it: a new pooled tenant declared and `up`;
 * its data written by the app; `bloom tenants extract` (tenant stack up through the Automation API, fence, copy,
 * verify, cutover); the pool's copy purged after the grace period; `bloom tenants return`. Then the runbook CLI
 * killed with -9 at seeded points, during the engine step and after, and rerun: nothing lost, nothing duplicated,
 * no manual `pulumi cancel`; `bloom tenants sync` the same way; `migrate deploy --all`; offboarding with an export.
 * BLOOM_LIFECYCLE_KILL_TRIALS sets the CLI kills (CI default 4, each kind of kill point once: an extract in the
 * platform's up, an extract in the tenant stack's up, two returns in the data plane; ~55 s a trial here),
 * BLOOM_SYNC_KILL_TRIALS the kills of sync (CI default 3, ~40 s each). Run them bigger before a release, e.g. 20 and 10.
 */
const engine = findEngine();
const mustRun = process.env.CI === "true";
const KILLS = Number(process.env.BLOOM_LIFECYCLE_KILL_TRIALS ?? 4);
const SEED = Number(process.env.BLOOM_LIFECYCLE_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SYNC_KILLS = Number(process.env.BLOOM_SYNC_KILL_TRIALS ?? 3);
const TABLES = ["user", "branch", "therapist", "patient", "paquete", "appointment", "payment"];

const ofTenant = (fp: Record<string, string>, t: string) => Object.fromEntries(Object.entries(fp).filter(([k]) => k.endsWith(`:${t}`) && !k.startsWith("clinic:")));
const notOf = (fp: Record<string, string>, t: string) => Object.fromEntries(Object.entries(fp).filter(([k]) => !k.endsWith(`:${t}`)));

describe.skipIf(!engine && !mustRun)("tenant lifecycle on the real engine: declare, extract, purge, return", () => {
  const stackName = uniqueName("e2e-lc");
  const tenant = uniqueName("onb").slice(0, 24);
  // Set by e2eStackFile in beforeAll.
  let root = "", dir = "", configFile = "", migrationsDir = "";
  const said: string[] = [];
  const say = (l: string) => said.push(l);
  let ctx: StackContext;
  let kvPort = 0;
  let pool = "";
  let poolApp = "";

  beforeAll(async () => {
    if (!engine) throw new Error("CI=true and no Pulumi CLI was found: `npm run setup:pulumi` must run before the e2e suite");
    await requirePostgres();
    ({ root, dir, configFile, migrationsDir, kvPort } = await e2eStackFile(stackName, (config) => {
      config["bloom:tenants"] = [...(config["bloom:tenants"] as object[]), { id: tenant, name: "Onboarding Clinic", tier: "enterprise", isolation: "pooled" }];
    }));
    ctx = await openStackContext({ stackName, configFile, root });
  });
  afterAll(async () => {
    await tearDownTenantE2e(ctx, tenant, { dir, root, kvPort });
  });


  it("a newly declared pooled tenant exists after up: its clinic row, and the app writes every tenant table as it", async () => {
    const res = await ctx.stack.up();
    pool = res.outputs.migratorDatabaseUrl!.value as string;
    poolApp = res.outputs.appDatabaseUrl!.value as string;
    expect(await query(pool, `SELECT id, tier FROM clinic WHERE id = $1`, [tenant])).toEqual([{ id: tenant, tier: "enterprise" }]);
    const t = tenant;
    const writes = [
      `INSERT INTO "user" (id, email, name, password_hash, clinic_id) VALUES ('u1', 'u1@x', 'U', 'x', '${t}')`,
      `INSERT INTO "branch" (id, name, clinic_id) VALUES ('b1', 'B', '${t}')`,
      `INSERT INTO "therapist" (id, name, branch_id, clinic_id) VALUES ('t1', 'T', 'b1', '${t}')`,
      `INSERT INTO "patient" (id, name, clinic_id) SELECT 'p' || i, 'P' || i, '${t}' FROM generate_series(1, 500) i`,
      `INSERT INTO "paquete" (id, name, sessions, price_cents, clinic_id) VALUES ('pk1', 'PK', 5, 5000, '${t}')`,
      `INSERT INTO "appointment" (id, patient_id, therapist_id, branch_id, paquete_id, date, hour, clinic_id) SELECT 'a' || i, 'p' || i, 't1', 'b1', 'pk1', '2026-12-01', '10:00', '${t}' FROM generate_series(1, 500) i`,
      `INSERT INTO "payment" (id, appointment_id, patient_id, amount_cents, clinic_id) SELECT 'pay' || i, 'a' || i, 'p' || i, 100, '${t}' FROM generate_series(1, 500) i`,
    ];
    for (const sql of writes) expect((await asApp(poolApp, tenant, sql)).code, sql).toBeUndefined();
    const counts = await query<{ tbl: string; n: number }>(pool, TABLES.map((x) => `SELECT '${x}' AS tbl, count(*)::int AS n FROM "${x}" WHERE clinic_id = $1`).join(" UNION ALL "), [tenant]);
    expect(counts.every((c) => c.n > 0)).toBe(true);
  });

  it("extract: the tenant stack exists, rows identical, others untouched, writes work in the dedicated database and are refused in the pool", async () => {
    const before = await fingerprint(pool);
    // --dry-run: the plan (rows and MB per table, the freeze estimate), and nothing changed — no file, catalog or stack.
    const fileBefore = readFileSync(configFile, "utf8");
    const catalogBefore = await query(pool, `SELECT * FROM bloom_platform.tenants WHERE id = $1`, [tenant]);
    said.length = 0;
    await moveTenantCommand(ctx, tenant, "extract", { dryRun: true, graceMs: 2_000, say });
    expect(said.join("\n")).toMatch(/plan: extract [\s\S]*patient +500 rows[\s\S]*total: 1504 rows, [\d.]+ MB; estimated write freeze/);
    expect(readFileSync(configFile, "utf8")).toBe(fileBefore);
    expect(await query(pool, `SELECT * FROM bloom_platform.tenants WHERE id = $1`, [tenant])).toEqual(catalogBefore);
    expect(await listTenantStacks(root)).not.toContain(`local-${tenant}`);

    // --online on this server (the machine's, not started for logical decoding): the dry run names the setting,
    // the move refuses before anything changes.
    const walLevel = (await query<{ wal_level: string }>(pool, "SHOW wal_level"))[0]!.wal_level;
    if (walLevel !== "logical") {
      said.length = 0;
      await moveTenantCommand(ctx, tenant, "extract", { dryRun: true, online: true, graceMs: 2_000, say });
      expect(said.join("\n")).toMatch(new RegExp(`source server: wal_level is ${walLevel}: set wal_level = logical and restart`));
      await expect(moveTenantCommand(ctx, tenant, "extract", { yes: true, online: true, graceMs: 2_000, say })).rejects.toThrow(/cannot move .* online; nothing was changed/);
      expect(readFileSync(configFile, "utf8")).toBe(fileBefore);
      expect(await query(pool, `SELECT * FROM bloom_platform.tenants WHERE id = $1`, [tenant])).toEqual(catalogBefore);
    }
    await moveTenantCommand(ctx, tenant, "extract", { yes: true, graceMs: 2_000, say });
    const outputs = await (await tenantHandle(ctx, tenant).openStack()).outputs();
    const dedicated = outputs.migratorDatabaseUrl!.value as string;
    const dedicatedApp = outputs.appDatabaseUrl!.value as string;
    expect(ofTenant(await fingerprint(dedicated), tenant)).toEqual(ofTenant(before, tenant));
    expect(notOf(await fingerprint(pool), tenant)).toEqual(notOf(before, tenant));
    // The dedicated database holds exactly this clinic (the baseline's legacy row is gone).
    expect(await query(dedicated, `SELECT id FROM clinic`)).toEqual([{ id: tenant }]);
    expect((await asApp(dedicatedApp, tenant, `INSERT INTO "patient" (id, name, clinic_id) VALUES ('after', 'After', '${tenant}')`)).code).toBeUndefined();
    expect((await asApp(poolApp, tenant, `INSERT INTO "patient" (id, name, clinic_id) VALUES ('stale', 'Stale', '${tenant}')`)).code).toBe(TENANT_MAINTENANCE_SQLSTATE);
    expect(readFileSync(configFile, "utf8")).toMatch(new RegExp(`id: ${tenant}\\n(?: {6}.*\\n)*? {6}isolation: dedicated`));
    expect(said.join("\n")).toMatch(/write freeze: \d+\.\d+ s/);
    // Config and catalog agree: the platform has nothing to change.
    const preview = await ctx.stack.preview();
    expect(preview.changeSummary.update ?? 0).toBe(0);

    await new Promise((r) => setTimeout(r, 2_000)); // the grace period
    await purgeCommand(ctx, tenant, { say });
    expect(ofTenant(await fingerprint(pool), tenant)).toEqual({});
  });

  it("return: back in the pool with every row, including those written in the dedicated database", async () => {
    const dedicated = (await (await tenantHandle(ctx, tenant).openStack()).outputs()).migratorDatabaseUrl!.value as string;
    const there = ofTenant(await fingerprint(dedicated), tenant);
    await moveTenantCommand(ctx, tenant, "return", { yes: true, graceMs: 0, say });
    expect(ofTenant(await fingerprint(pool), tenant)).toEqual(there);
    expect(ofTenant(await fingerprint(dedicated), tenant)).toEqual({});
    expect((await asApp(poolApp, tenant, `SELECT count(*)::int AS n FROM "patient"`)).rows).toEqual([{ n: 501 }]);
    expect(readFileSync(configFile, "utf8")).toMatch(new RegExp(`id: ${tenant}\\n(?: {6}.*\\n)*? {6}isolation: pooled`));
  });

  it(`the runbook CLI killed with -9 at ${KILLS} seeded points (the engine step of every other extract, the data plane otherwise), then rerun: 0 lost, 0 duplicated, no manual cancel`, async () => {
    console.log(`lifecycle kill trials: seed ${SEED}, ${KILLS} kills (replay: BLOOM_LIFECYCLE_KILL_SEED=${SEED})`);
    const reference = ofTenant(await fingerprint(pool), tenant);
    const trials: string[] = [];
    // Each kill waits for a marker in the CLI's progress, then a seeded delay: extracts alternate between the
    // platform's `up` and the tenant stack's (the engine step), returns are killed in the data plane.
    const delays = fc.sample(fc.noBias(fc.integer({ min: 0, max: 4_000 })), { seed: SEED, numRuns: KILLS });
    for (const [i, delay] of delays.entries()) {
      const direction = i % 2 === 0 ? "extract" : "return";
      const marker = direction === "return" ? /fenced /
        : i % 4 === 0 ? new RegExp(`stack ${stackName}: up …`) : new RegExp(`stack local-${tenant}: up …`);
      const dataPlaneDelay = Math.round(delay / 10); // a move's data plane takes a few hundred ms here
      const killed = await bloom(["tenants", direction, tenant, "--grace", "0", "--yes"], { after: marker, ms: direction === "return" ? dataPlaneDelay : delay });
      const lastLineBeforeKill = lastOutput.trim().split("\n").at(-1) ?? "(nothing printed yet)";
      // The rerun finishes the move (or says it already happened), and the purge what the killed run left.
      await bloom(["tenants", direction, tenant, "--grace", "0", "--yes"]).catch((err: Error) => {
        if (!/already (dedicated|in the pool)/.test(err.message)) throw err;
      });
      const out = lastOutput;
      trials.push(`#${i} ${direction} killed=${killed} ${direction === "return" ? dataPlaneDelay : delay} ms after ${marker.source} at "${lastLineBeforeKill}"; rerun: ${out.match(/removed the lock[^\n]*/g)?.length ?? 0} stale lock(s) removed, ${out.match(/ended the orphaned/g)?.length ?? 0} orphaned plugin(s) ended`);
      await bloom(["tenants", "purge", tenant, "--now"]);
      const status = await bloomOutput(["tenants", "status"]);
      const dedicated = async () => (await (await tenantHandle(ctx, tenant).openStack()).outputs()).migratorDatabaseUrl!.value as string;
      const [home, away] = direction === "extract" ? [await dedicated(), pool] : [pool, await dedicated()];
      expect(ofTenant(await fingerprint(home), tenant), `trial ${i} (${direction}, killed: ${killed}): ${out}\n${status}`).toEqual(reference);
      expect(ofTenant(await fingerprint(away), tenant), `trial ${i}: the old copy is purged`).toEqual({});
    }
    console.log(trials.join("\n"));
    // The killed engines' plugins (own process groups) were ended by the reruns, not left running.
    expect(findOrphanedPlugins()).toEqual([]);
    if (KILLS % 2 === 1) await moveTenantCommand(ctx, tenant, "return", { yes: true, graceMs: 0, say });
  });

  it("sync destroys a leftover tenant stack whose database holds none of the tenant's rows", async () => {
    expect(await listTenantStacks(root)).toContain(`local-${tenant}`); // left by the return
    const res = await syncTenantStacks(ctx, { say });
    expect(res.destroyed).toEqual([`local-${tenant}`]);
    expect(await listTenantStacks(root)).not.toContain(`local-${tenant}`);
  });

  it(`sync killed with -9 at ${SYNC_KILLS} seeded points of a tenant stack's up, then rerun: it recovers the lock itself and converges`, async () => {
    await moveTenantCommand(ctx, tenant, "extract", { yes: true, graceMs: 0, say });
    const reference = ofTenant(await fingerprint((await (await tenantHandle(ctx, tenant).openStack()).outputs()).migratorDatabaseUrl!.value as string), tenant);
    const delays = fc.sample(fc.noBias(fc.integer({ min: 0, max: 3_000 })), { seed: SEED + 1, numRuns: SYNC_KILLS });
    const trials: string[] = [];
    for (const [i, delay] of delays.entries()) {
      const killed = await bloom(["tenants", "sync"], { after: new RegExp(`stack local-${tenant}: up …`), ms: delay });
      await bloom(["tenants", "sync"]);
      trials.push(`#${i} killed=${killed} ${delay} ms into the up; rerun: ${lastOutput.match(/removed the lock/g)?.length ?? 0} stale lock(s) removed, ${lastOutput.match(/ended the orphaned/g)?.length ?? 0} orphaned plugin(s) ended, ${lastOutput.match(/sync: [^\n]*/)?.[0]}`);
      expect(lastOutput).toMatch(/sync: 1 up, 0 destroyed, 0 refused, 0 failed/);
    }
    console.log(trials.join("\n"));
    expect(findOrphanedPlugins()).toEqual([]);
    const dedicated = (await (await tenantHandle(ctx, tenant).openStack()).outputs()).migratorDatabaseUrl!.value as string;
    expect(ofTenant(await fingerprint(dedicated), tenant)).toEqual(reference);

    // A stack no declared tenant needs, whose database still holds rows: reported, never destroyed.
    const saved = readFileSync(configFile, "utf8");
    try {
      writeFileSync(configFile, saved.replace(new RegExp(`    - id: ${tenant}\\n(?: {6}.*\\n)+`), ""));
      await ctx.reload();
      const res = await syncTenantStacks(ctx, { say });
      expect(res.refused).toEqual([`local-${tenant}`]);
      expect(said.join("\n")).toMatch(new RegExp(`local-${tenant}: NOT destroyed — its database holds \\d+ rows`));
      expect(await listTenantStacks(root)).toContain(`local-${tenant}`);
    } finally {
      writeFileSync(configFile, saved);
      await ctx.reload();
    }
  });

  it("state rewrite-providers: providers serialized with their closures (state from before references) are replaced by references in the platform's and the tenant's stack; --dry-run imports nothing; a preview after proposes nothing", async () => {
    const stacks = [ctx.stack, await tenantHandle(ctx, tenant).openStack()];
    // State as the code before providerReference wrote it: each resource's outputs hold its provider's closure.
    const closures = new Map<string, string>();
    for (const stack of stacks) {
      const exported = await stack.exportStack();
      for (const r of exported.deployment.resources as { type: string; outputs?: Record<string, unknown> }[]) {
        const kind = r.type.startsWith("pulumi-nodejs:dynamic/bloom:") ? r.type.slice("pulumi-nodejs:dynamic/bloom:".length) : undefined;
        if (!kind || !r.outputs) continue;
        if (!closures.has(kind)) {
          const { module, exportName } = PROVIDER_OF_KIND[kind as DynamicKind];
          const provider = (await import(path.join(REPO_ROOT, module)))[exportName];
          closures.set(kind, (await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text);
        }
        r.outputs.__provider = closures.get(kind);
      }
      await stack.importStack(exported);
    }
    const providersIn = async () => (await Promise.all(stacks.map((s) => s.exportStack()))).flatMap((e) => (e.deployment.resources as { outputs?: Record<string, unknown> }[]).map((r) => r.outputs?.__provider).filter((p): p is string => typeof p === "string"));
    const old = await providersIn();
    expect(old.filter((p) => [...closures.values()].includes(p)).length).toBeGreaterThan(10);

    const dry = await bloomOutput(["state", "rewrite-providers", "--dry-run"]);
    expect(dry).toMatch(new RegExp(`^${stackName}: \\d+ resource\\(s\\) to rewrite \\(__provider \\d+ KB → \\d+ KB\\); dry run: nothing imported$`, "m"));
    expect(dry).toMatch(new RegExp(`^local-${tenant}: \\d+ resource\\(s\\) to rewrite`, "m"));
    expect(await providersIn()).toEqual(old);

    const done = await bloomOutput(["state", "rewrite-providers"]);
    expect(done).toMatch(new RegExp(`^${stackName}: \\d+ resource\\(s\\) rewritten \\([^)]*\\); preview: no changes$`, "m"));
    expect(done).toMatch(new RegExp(`^local-${tenant}: \\d+ resource\\(s\\) rewritten \\([^)]*\\); preview: no changes$`, "m"));
    const now = await providersIn();
    expect(now.filter((p) => [...closures.values()].includes(p))).toEqual([]);
    expect(Math.max(...now.map((p) => p.length))).toBeLessThan(3_000);
    console.log(`[state rewrite-providers]\n${done.split("\n").filter((l) => /rewritten/.test(l)).join("\n")}`);
    // A second run finds nothing to do.
    expect(await bloomOutput(["state", "rewrite-providers"])).toMatch(new RegExp(`^${stackName}: 0 resource\\(s\\) to rewrite`, "m"));
  });

  it("migrate deploy --all: a dry run (of the stack's own database or of all) applies nothing; then a new migration reaches the pool and the dedicated database, each behind its own snapshot", async () => {
    addMigration(migrationsDir, "20270101000000_patient_note", `ALTER TABLE "patient" ADD COLUMN "note" TEXT;`);
    const noteColumns = `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'patient' AND column_name = 'note'`;
    const dedicated = (await (await tenantHandle(ctx, tenant).openStack()).outputs()).migratorDatabaseUrl!.value as string;
    const dryLines: string[] = [];
    expect(await migrateDeploy(ctx, (l) => dryLines.push(l), { dryRun: true })).toEqual([]);
    expect(await migrateAll(ctx, (l) => dryLines.push(l), { dryRun: true })).toEqual([]);
    expect(dryLines).toContain(`${stackName} (${ctx.config.appBranch}): 1 pending: 20270101000000_patient_note`);
    expect(dryLines).toContain("pool: 1 pending (20270101000000_patient_note)");
    for (const url of [pool, dedicated]) expect(await query(url, noteColumns)).toEqual([{ n: 0 }]);
    const outcomes = await migrateAll(ctx, say);
    expect(outcomes.map((o) => [o.target, o.applied, Boolean(o.snapshot)])).toEqual([
      ["pool", ["20270101000000_patient_note"], true], [`tenant:${tenant}`, ["20270101000000_patient_note"], true],
    ]);
    for (const url of [pool, dedicated]) expect(await query(url, noteColumns)).toEqual([{ n: 1 }]);
    expect((await migrateAll(ctx, say)).every((o) => o.applied.length === 0)).toBe(true);
  });

  it("offboard another tenant with an encrypted export: the export verifies, its rows are gone everywhere, the platform forgets it", async () => {
    for (const sql of [`INSERT INTO "patient" (id, name, clinic_id) VALUES ('pilot-p1', 'Pilot patient', 'pilot')`, `INSERT INTO "branch" (id, name, clinic_id) VALUES ('pilot-b1', 'Pilot branch', 'pilot')`]) {
      expect((await asApp(poolApp, "pilot", sql)).code).toBeUndefined();
    }
    const before = await fingerprint(pool);
    const exportDir = path.join(dir, "export-pilot");
    const key = randomBytes(32);
    process.env.BLOOM_EXPORT_KEY = key.toString("base64");
    try {
      const evidence = await offboardCommand(ctx, "pilot", { exportDir, yes: true, say });
      expect(evidence!.databases.map((d) => d.rowsRemaining)).toEqual([0]);
    } finally {
      delete process.env.BLOOM_EXPORT_KEY;
    }
    expect(await verifyExport(exportDir, key)).toEqual([]);
    expect(JSON.parse(readFileSync(path.join(exportDir, "manifest.json"), "utf8")).tables.patient.rows).toBe(1);
    expect(existsSync(path.join(exportDir, "erasure-evidence.json"))).toBe(true);
    expect(readdirSync(exportDir).filter((f) => f.endsWith(".copy.enc"))).toHaveLength(7);
    const after = await fingerprint(pool);
    expect(Object.keys(after).filter((k) => k.endsWith(":pilot"))).toEqual([]);
    expect(after).toEqual(Object.fromEntries(Object.entries(before).filter(([k]) => !k.endsWith(":pilot"))));
    expect(await query(pool, `SELECT id FROM bloom_platform.tenants WHERE id = 'pilot'`)).toEqual([]);
    expect(await query(pool, `SELECT tenant_id FROM bloom_platform.erasure_log`)).toEqual([{ tenant_id: "pilot" }]);
    expect(readFileSync(configFile, "utf8")).not.toMatch(/\bpilot\b/);
  });

  // The runbook CLI as on-call runs it (test/bloomCli.ts). Resolves true when it was killed.
  let lastOutput = "";
  async function bloom(args: string[], kill?: { after: RegExp; ms: number }): Promise<boolean> {
    try {
      const res = await runBloom({ stackName, configFile, root }, args, kill);
      lastOutput = res.output;
      return res.killed;
    } catch (err) {
      lastOutput = (err as { output?: string }).output ?? "";
      throw err;
    }
  }
  async function bloomOutput(args: string[]): Promise<string> {
    await bloom(args);
    return lastOutput;
  }
});
