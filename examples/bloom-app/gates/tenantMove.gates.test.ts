import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poolerStateDir, stopPooler } from "../../../infra/database/local/pgbouncer";
import { REPO_ROOT } from "../../../infra/config/stackFile";
import { buildExampleApp, exampleAppEnv, startExampleApp, writeTenantUrls, type RunningExampleApp } from "../../../scripts/exampleApp";
import { findEngine } from "../../../scripts/engine/engineLocation";
import { tenantHandle } from "../../../scripts/runbook/tenantStackAccess";
import { ensureLogicalTestPostgres } from "../../../scripts/services/ensurePostgres";
import { runBloom } from "../../../test/bloomCli";
import { EXAMPLE_CLINICS, openExampleStack, type ExampleStack } from "../../../test/exampleStack";
import { freePort } from "../../../test/kvPort";
import { query, uniqueName } from "../../../test/postgres";
import { runPlaywright } from "./runPlaywright";

/**
 * The playbook's isolation test through a tenant move: the example app serves alpha and beta from the pool while
 * `bloom tenants extract alpha --online` moves alpha to its own database (a server with wal_level = logical, which
 * the harness starts). The Playwright loop (gates/move.spec.ts) must see only 2xx, 429 or 503 with Retry-After and
 * never the other clinic's row; afterwards every appointment alpha was told was created is in alpha's dedicated
 * database, and the app serves alpha from there. Alpha's URL reaches the app through its secret-store stand-in (a
 * file), written from the tenant stack's `appDatabaseUrl` once the move has provisioned it.
 */
const engine = findEngine();

describe.skipIf(!engine && process.env.CI !== "true")("the playbook's isolation test through alpha's online move (real engine, logical replication)", () => {
  let stack: ExampleStack;
  let app: RunningExampleApp | undefined;
  let poolerPort = 0;
  let urlsFile = "";

  beforeAll(async () => {
    if (!engine) throw new Error("CI=true and no Pulumi CLI was found: `npm run setup:pulumi` must run first");
    const serverUrl = await ensureLogicalTestPostgres();
    poolerPort = await freePort();
    // Budgets the loop does not reach: every request should exercise the database, not the limiter.
    const generous = { requests: 100_000, window: "1 m" };
    stack = await openExampleStack(uniqueName("gates-move"), {
      edit: (config) => {
        config["bloom:database"] = { backend: "local", local: { serverUrl, poolerPort } };
        config["bloom:limits"] = { tiers: { standard: generous, professional: generous, enterprise: generous } };
      },
    });
    urlsFile = path.join(stack.dir, "tenant-urls.json");
    await writeTenantUrls(stack.ctx, [], urlsFile);
    buildExampleApp();
    app = await startExampleApp(exampleAppEnv(await stack.outputs(), { sessionSecret: randomBytes(24).toString("base64url"), testLogin: true, tenantUrlsFile: urlsFile }), await freePort());
  }, 900_000);

  afterAll(async () => {
    await app?.stop();
    await stack?.close({ dedicated: ["alpha"] });
    if (poolerPort) stopPooler(poolerStateDir(path.join(REPO_ROOT, ".bloom"), poolerPort));
  }, 300_000);

  it("every answer 2xx, 429 or 503 with Retry-After, never the other's row; alpha's appointments in its own database after", async () => {
    const stopFile = path.join(stack.dir, "move-done");
    const createdFile = path.join(stack.dir, "move-created.json");
    const loop = runPlaywright("move", {
      report: path.join(stack.dir, "gate-move.json"),
      outputDir: path.join(stack.dir, "results-move"),
      env: { BLOOM_APP_URL: app!.url, BLOOM_GATE_PATIENTS: JSON.stringify({ alpha: EXAMPLE_CLINICS.alpha.patient, beta: EXAMPLE_CLINICS.beta.patient }), BLOOM_GATE_STOP_FILE: stopFile, BLOOM_GATE_CREATED_FILE: createdFile, BLOOM_GATE_LOOP_MS: "420000" },
      timeoutMs: 540_000,
    });
    await new Promise((r) => setTimeout(r, 3_000)); // the loop runs against the pool first
    // As the deployment pipeline would: once the move has provisioned alpha's stack (it streams next), its URL goes
    // to the app's secret store. Until the app can read it, alpha's requests are answered 503.
    let stored: Promise<string[]> | undefined;
    const extract = await runBloom(stack.cli, ["tenants", "extract", "alpha", "--online", "--grace", "0", "--yes"], undefined, (soFar) => {
      if (!stored && /streaming \d+ tables/.test(soFar)) stored = writeTenantUrls(stack.ctx, ["alpha"], urlsFile);
    });
    expect(await stored).toEqual(["alpha"]);
    expect(extract.output).toMatch(/write freeze: \d+\.\d+ s/);
    console.log(`[gates] extract: ${extract.output.split("\n").filter((l) => /write freeze|streaming|done/.test(l)).join(" | ")}`);
    await new Promise((r) => setTimeout(r, 8_000)); // the loop goes on against alpha's new home (past the router's 5 s cache)
    writeFileSync(stopFile, "done");
    const run = await loop;
    console.log(`[gates] move loop: ${run.output.split("\n").filter((l) => /\[move loop\]|✓|✘|passed|failed/.test(l)).join("\n")}`);
    expect(run.status, run.output).toBe(0);
    expect({ passed: run.passed, failed: run.failed }).toEqual({ passed: 1, failed: 0 });

    const created = JSON.parse(readFileSync(createdFile, "utf8")) as { alpha: string[]; beta: string[] };
    const dedicated = (await (await tenantHandle(stack.ctx, "alpha").openStack()).outputs()).migratorDatabaseUrl!.value as string;
    const pool = (await stack.outputs()).migratorDatabaseUrl!.value as string;
    const inDedicated = await query<{ n: number }>(dedicated, `SELECT count(*)::int AS n FROM appointment WHERE clinic_id = 'alpha' AND id = ANY($1)`, [created.alpha]);
    expect(inDedicated).toEqual([{ n: created.alpha.length }]);
    expect(await query(pool, `SELECT isolation FROM bloom_platform.tenants WHERE id = 'alpha'`)).toEqual([{ isolation: "dedicated" }]);
    const betaInPool = await query<{ n: number }>(pool, `SELECT count(*)::int AS n FROM appointment WHERE clinic_id = 'beta' AND id = ANY($1)`, [created.beta]);
    expect(betaInPool).toEqual([{ n: created.beta.length }]);
  });
});
