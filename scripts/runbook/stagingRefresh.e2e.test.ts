import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { Client } from "pg";
import { runWithTenant } from "@bloom/tenant-runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopLocalRestEndpoint } from "../../infra/kv/localEndpoint";
import { findEngine } from "../engine/engineLocation";
import { runBloom } from "../../test/bloomCli";
import { e2eStackFile } from "../../test/e2eStack";
import { query, requirePostgres, uniqueName } from "../../test/postgres";
import { prodLikeTenantSql } from "../../test/stagingFixtures";
import { openStackContext, type StackContext } from "./stackContext";

/**
 * `bloom staging refresh` as on-call runs it, on the real engine: a source stack with three pooled clinics of
 * data, a staging stack declaring a copy of it; the refresh copies two of them masked into a new branch,
 * verifies, repoints staging's app with `up`; staging's own app role reads the masked rows, the source's cannot.
 */
const engine = findEngine();
const mustRun = process.env.CI === "true";

describe.skipIf(!engine && !mustRun)("bloom staging refresh on the real engine (local stack)", () => {
  const sourceName = uniqueName("e2e-src");
  const stagingName = uniqueName("e2e-stg");
  let source: Awaited<ReturnType<typeof e2eStackFile>>;
  let staging: Awaited<ReturnType<typeof e2eStackFile>>;
  let sourceCtx: StackContext;
  let stagingCtx: StackContext;
  const runKey = randomBytes(32).toString("hex");
  const bloom = (args: string[]) => runBloom({ stackName: stagingName, configFile: staging.configFile, root: staging.root }, ["staging", "refresh", "--from-config", source.configFile, ...args]);

  beforeAll(async () => {
    if (!engine) throw new Error("CI=true and no Pulumi CLI was found: `npm run setup:pulumi` must run before the e2e suite");
    await requirePostgres();
    source = await e2eStackFile(sourceName, (c) => {
      c["bloom:tenants"] = [...(c["bloom:tenants"] as object[]), { id: "gamma", name: "Gamma", tier: "standard", isolation: "pooled" }];
    });
    staging = await e2eStackFile(stagingName, (c) => {
      c["bloom:environment"] = "staging";
      c["bloom:stagingCopy"] = { from: sourceName, keepPreviousDays: 3 };
    });
    sourceCtx = await openStackContext({ stackName: sourceName, configFile: source.configFile, root: source.root });
    stagingCtx = await openStackContext({ stackName: stagingName, configFile: staging.configFile, root: staging.root });
    expect((await sourceCtx.stack.up()).summary.result).toBe("succeeded");
    expect((await stagingCtx.stack.up()).summary.result).toBe("succeeded");
    const migrator = await sourceCtx.output<string>("migratorDatabaseUrl");
    for (const t of ["legacy", "pilot", "gamma"]) for (const s of prodLikeTenantSql(t, 3000)) await query(migrator, s);
    process.env.BLOOM_STAGING_RUN_KEY = runKey;
  }, 600_000);

  afterAll(async () => {
    delete process.env.BLOOM_STAGING_RUN_KEY;
    // A teardown that cannot clean up fails the suite: left behind, the source's tenants and rows would be the next
    // run's (every local stack's pool is bloom_local__main on the test server).
    const failures: string[] = [];
    for (const [ctx, e] of [[stagingCtx, staging], [sourceCtx, source]] as const) {
      if (ctx) {
        // The platform refuses to drop a tenant that still holds rows: the suite's rows go first.
        const migrator = await ctx.output<string>("migratorDatabaseUrl").catch((err: Error) => void failures.push(`${ctx.stackName}: no migrator URL (${err.message})`));
        if (migrator) await query(migrator, `TRUNCATE "user", "branch", "therapist", "patient", "paquete", "appointment", "payment"`).catch((err: Error) => failures.push(`${ctx.stackName}: truncate: ${err.message}`));
        await ctx.stack.destroy().catch((err: Error) => failures.push(`destroy ${ctx.stackName}: ${err.message.slice(-2000)}`));
        await ctx.stack.workspace.removeStack(ctx.stackName).catch(() => undefined);
      }
      if (e) {
        rmSync(e.dir, { recursive: true, force: true });
        stopLocalRestEndpoint(e.kvPort, undefined, { forget: true });
      }
    }
    if (failures.length) throw new Error(`the staging refresh suite could not clean up:\n${failures.join("\n")}`);
  });

  it("--dry-run prints the masking and the row counts, changes nothing, and never prints the run key or a connection string", async () => {
    const before = (await stagingCtx.stack.outputs()).appBranch!.value;
    const { output } = await bloom(["--tenants", "legacy,gamma", "--dry-run"]);
    expect(output).toContain("tenants: gamma, legacy (2 of 3, whole)");
    expect(output).toContain("  patient.email: email (contact)");
    expect(output).toMatch(/rows in patient: gamma 900, legacy 900/);
    expect(output).toContain("dry run: nothing was created or copied");
    expect(output).not.toContain(runKey);
    expect(output).not.toMatch(/postgres(ql)?:\/\//);
    expect((await stagingCtx.stack.outputs()).appBranch!.value).toBe(before);
  });

  let firstCopy = "";
  it("copies two clinics masked into a new branch, verifies, and points staging's app at it; staging's app role reads masked rows", async () => {
    const { output } = await bloom(["--tenants", "legacy,gamma", "--yes"]);
    expect(output).toMatch(/verified: \d+ masked values, none equal to its original; none of \d+ original emails and phones appears; counts and constraints match/);
    expect(output).toMatch(/done: the app now uses copy-\d{8}-\d{6}/);
    expect(output).not.toContain(runKey);
    expect(output).not.toMatch(/postgres(ql)?:\/\//);
    await stagingCtx.reload();
    firstCopy = stagingCtx.config.appBranch;
    expect(firstCopy).toMatch(/^copy-/);
    const outputs = await stagingCtx.stack.outputs();
    const app = new Client({ connectionString: outputs.appDatabaseUrl!.value as string });
    await app.connect();
    try {
      const rows = await runWithTenant(app, "gamma", async (c) => (await c.query<{ email: string; n: string }>(`SELECT min(email) AS email, count(*) AS n FROM "patient"`)).rows[0]!);
      expect(rows.n).toBe("900");
      expect(rows.email).toMatch(/@staging\.invalid$/);
    } finally {
      await app.end();
    }
    // pilot was not chosen: no row of it crossed.
    const migrator = outputs.migratorDatabaseUrl!.value as string;
    expect(await query(migrator, `SELECT count(*)::int AS n FROM "patient" WHERE clinic_id = 'pilot'`)).toEqual([{ n: 0 }]);
    // The source's app role has no grant on staging's tables: staging's logins are its own.
    const sourceRole = (await sourceCtx.stack.outputs()).appRoleName!.value as string;
    expect(await query(migrator, `SELECT has_table_privilege($1, 'public.patient', 'SELECT') AS p`, [sourceRole])).toEqual([{ p: false }]);
  });

  it("a second refresh samples ⌈50 %⌉ of the clinics; the previous copy is kept with an expiry, staging's main is never expired", async () => {
    await new Promise((r) => setTimeout(r, 1100)); // branch names carry the second
    const { output } = await bloom(["--sample", "50%", "--yes"]);
    expect(output).toMatch(/tenants: \w+, \w+ \(2 of 3, whole\)/);
    expect(output).toMatch(new RegExp(`the previous copy ${firstCopy} is kept until \\d{4}-\\d{2}-\\d{2}T`));
    await stagingCtx.reload();
    expect(stagingCtx.config.appBranch).not.toBe(firstCopy);
    const backend = await stagingCtx.backend();
    try {
      const branches = await backend.listBranches(await stagingCtx.output<string>("poolProjectId"));
      const old = branches.find((b) => b.name === firstCopy)!;
      expect(Date.parse(old.expiresAt!) - Date.now()).toBeGreaterThan(2.9 * 86_400_000);
      expect(branches.find((b) => b.name === "main")!.expiresAt).toBeUndefined();
    } finally {
      await backend.close();
    }
  });
});
