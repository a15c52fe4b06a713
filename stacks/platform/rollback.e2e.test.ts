import { readdirSync, readFileSync, rmSync } from "node:fs";
import { Client } from "pg";
import { runWithTenant } from "@bloom/tenant-runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findEngine } from "../../scripts/engine/engineLocation";
import { rollbackTo, undoRollback } from "../../scripts/runbook/rollbackCommands";
import { poolBranches } from "../../scripts/runbook/snapshotCommands";
import { listSnapshots } from "../../scripts/runbook/snapshotCommands";
import { openStackContext, type StackContext } from "../../scripts/runbook/stackContext";
import { addMigration } from "../../test/migrationFixtures";
import { e2eStackFile } from "../../test/e2eStack";
import { query, requirePostgres, uniqueName } from "../../test/postgres";
import { stopLocalRestEndpoint } from "../../infra/kv/localEndpoint";

/**
 * The rollback story on the real engine: up (migrations run as a deploy hook) → data → a bad migration deploys
 * (snapshot first) → rollback repoints the published connection to the snapshot → --undo returns; then the
 * same with restore mode.
 */
const engine = findEngine();
const mustRun = process.env.CI === "true";

async function patientsVia(appUrl: string): Promise<string[]> {
  const client = new Client({ connectionString: appUrl });
  await client.connect();
  try {
    return await runWithTenant(client, "legacy", async (c) => (await c.query<{ name: string }>('SELECT name FROM "patient" ORDER BY name')).rows.map((r) => r.name));
  } finally {
    await client.end();
  }
}

describe.skipIf(!engine && !mustRun)("deploy hook, snapshots and rollback on the real engine", () => {
  const stackName = uniqueName("e2e-rb");
  // Set by e2eStackFile in beforeAll.
  let root = "", dir = "", configFile = "", migrationsDir = "";
  const said: string[] = [];
  const say = (l: string) => said.push(l);
  let ctx: StackContext;
  let kvPort = 0;

  beforeAll(async () => {
    if (!engine) throw new Error("CI=true and no Pulumi CLI was found: `npm run setup:pulumi` must run before the e2e suite");
    await requirePostgres();
    ({ root, dir, configFile, migrationsDir, kvPort } = await e2eStackFile(stackName));
    ctx = await openStackContext({ stackName, configFile, root });
  });
  afterAll(async () => {
    await ctx?.stack.destroy().catch(() => undefined);
    await ctx?.stack.workspace.removeStack(stackName).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    stopLocalRestEndpoint(kvPort, undefined, { forget: true });
  });

  it("up applies every migration through the deploy hook", async () => {
    const res = await ctx.stack.up();
    expect(res.summary.result).toBe("succeeded");
    const migrator = res.outputs.migratorDatabaseUrl!.value as string;
    const rows = await query<{ n: number }>(migrator, 'SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL');
    expect(rows[0]!.n).toBe(readdirSync(migrationsDir).length);
    await query(migrator, `INSERT INTO "patient" (id, name, clinic_id) VALUES ('p1', 'Ana', 'legacy'), ('p2', 'Bea', 'legacy'), ('p3', 'Cy', 'legacy')`);
    expect(await patientsVia(res.outputs.appDatabaseUrl!.value as string)).toEqual(["Ana", "Bea", "Cy"]);
  });

  it("a new migration deploys behind a snapshot; a bad one's damage shows through the app's connection", async () => {
    addMigration(migrationsDir, "20270101000000_cleanup_gone_wrong", 'DELETE FROM "patient";\n');
    const res = await ctx.stack.up();
    const snapshots = res.outputs.preDeploySnapshots!.value as Record<string, string>;
    expect(snapshots.pool).toMatch(/^predeploy-\d{8}-\d{4}-[0-9a-f]{8}$/);
    expect(await patientsVia(res.outputs.appDatabaseUrl!.value as string)).toEqual([]);
    const listed = await listSnapshots(ctx, say);
    expect(listed.map((b) => b.name)).toContain(snapshots.pool);
  });

  it("rollback --dry-run shows the plan and changes nothing", async () => {
    const before = readFileSync(configFile, "utf8");
    const snapshot = (await ctx.output<Record<string, string>>("preDeploySnapshots")).pool!;
    await rollbackTo(ctx, snapshot, { dryRun: true, say });
    expect(said.at(-1)).toMatch(/plan: .*will point at predeploy-/);
    expect(readFileSync(configFile, "utf8")).toBe(before);
  });

  it("rollback --to <snapshot> repoints the published connection: the app sees the pre-migration data; --undo returns", async () => {
    const snapshot = (await ctx.output<Record<string, string>>("preDeploySnapshots")).pool!;
    const snapshotExpiry = async () => (await poolBranches(ctx)).branches.find((b) => b.name === snapshot)?.expiresAt;
    const before = await snapshotExpiry();
    expect(before).toBeDefined(); // a pre-deploy snapshot expires (bloom:migrations.snapshotTtlHours)
    const rolled = await rollbackTo(ctx, snapshot, { yes: true, say });
    expect(rolled!.summary.result).toBe("succeeded");
    expect(await snapshotExpiry()).toBeUndefined(); // the branch the app uses must not expire under it
    expect(await patientsVia(rolled!.outputs.appDatabaseUrl!.value as string)).toEqual(["Ana", "Bea", "Cy"]);
    expect(readFileSync(configFile, "utf8")).toMatch(new RegExp(`bloom:appBranch: ${snapshot}[\\s\\S]*bloom:rollback:[\\s\\S]*mode: repoint`));
    // Migrations are paused while rolled back: the bad migration is not re-applied to the snapshot.
    const onSnapshot = await query<{ n: number }>(rolled!.outputs.migratorDatabaseUrl!.value as string, `SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE migration_name = '20270101000000_cleanup_gone_wrong'`);
    expect(onSnapshot[0]!.n).toBe(0);
    await expect(rollbackTo(ctx, snapshot, { yes: true, say })).rejects.toThrow(/rollback .* is in effect/);

    const undone = await undoRollback(ctx, { yes: true, say });
    expect(await patientsVia(undone!.outputs.appDatabaseUrl!.value as string)).toEqual([]);
    expect(readFileSync(configFile, "utf8")).toMatch(/bloom:appBranch: main/);
    expect(readFileSync(configFile, "utf8")).not.toMatch(/bloom:rollback/);
    expect(Date.parse((await snapshotExpiry())!)).toBeGreaterThanOrEqual(Math.max(Date.parse(before!), Date.now() + 24 * 3_600_000 - 60_000)); // back, no earlier than now + TTL
  });

  it("rollback --restore gives main the snapshot's data under the same connection string, and --undo takes it back", async () => {
    const snapshot = (await ctx.output<Record<string, string>>("preDeploySnapshots")).pool!;
    const appUrl = await ctx.output<string>("appDatabaseUrl");
    await rollbackTo(ctx, snapshot, { yes: true, restore: true, say });
    expect(await ctx.output<string>("appDatabaseUrl")).toBe(appUrl);
    expect(await patientsVia(appUrl)).toEqual(["Ana", "Bea", "Cy"]);
    expect(ctx.config.rollback).toMatchObject({ mode: "restore", to: snapshot, preserved: expect.stringMatching(/^main-before-/) });
    await undoRollback(ctx, { yes: true, say });
    expect(await patientsVia(appUrl)).toEqual([]);
    expect(ctx.config.rollback).toBeUndefined();
  });
});
