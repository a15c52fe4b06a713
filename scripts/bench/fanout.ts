import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import type { Client } from "pg";
import { withClient } from "../../infra/database/sql/withClient";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { LocalPostgresBackend } from "../../infra/database/local/localPostgresBackend";
import { deployMigrationsToTargets, type MigrationTarget } from "../../infra/migrations/deployToTargets";
import { loadMigrations, type Migration } from "../../infra/migrations/migrationSource";
import { applyPendingMigrations } from "../../infra/migrations/applyPendingMigrations";
import { NeonBackend } from "../../infra/database/neon/neonBackend";
import type { DatabaseBackend } from "../../infra/database/backend";
import { mapSettledWithLimit } from "../../infra/concurrency";
import { NeonFake } from "../../test/fakes/neon/neonFake";
import { ensureTestPostgres } from "../services/ensurePostgres";

/**
 * bench:fanout — the deploy hook's fan-out, once one database at a time and once with bounded concurrency, in the
 * same run, two ways:
 *  - local: the reference migrations on N fresh local databases (CPU-bound on 2 cores: reported, not a target);
 *  - neon: N dedicated tenants against the Neon fake with realistic latency (30–80 ms per API call, operations
 *    finishing after 0.5–2 s), each deploy taking its pre-deploy snapshot through the API and then applying one
 *    pending migration to its own local database, at the config's default concurrency (8; ideal 0.125).
 *    Headline: `fanout-100-neon concurrent/sequential = <x> (target <= 0.15)`.
 * `--only local|neon` runs one of them.
 */
const { values } = parseArgs({ options: { databases: { type: "string", default: "100" }, concurrency: { type: "string", default: "16" }, "neon-concurrency": { type: "string", default: "8" }, only: { type: "string" } } });
const count = Number(values.databases);
const concurrency = Number(values.concurrency);
if (!Number.isInteger(count) || count < 1) throw new Error("--databases must be a positive integer");
if (!Number.isInteger(concurrency) || concurrency < 2) throw new Error("--concurrency must be an integer >= 2");

const admin = <T>(url: string, work: (c: Client) => Promise<T>) => withClient(url, work, "bloom-bench");

async function makeDatabases(serverUrl: string, prefix: string): Promise<MigrationTarget[]> {
  return admin(serverUrl, async (c) => {
    const targets: MigrationTarget[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${prefix}_${i}`;
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      await c.query(`CREATE DATABASE ${name}`);
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      targets.push({ name, projectId: "bench", branchId: "main", migratorUrl: url.toString() });
    }
    return targets;
  });
}

async function dropDatabases(serverUrl: string, targets: MigrationTarget[]) {
  await admin(serverUrl, async (c) => {
    for (const t of targets) await c.query(`DROP DATABASE IF EXISTS ${new URL(t.migratorUrl).pathname.slice(1)} WITH (FORCE)`);
  });
}

/** Machine-wide CPU use over a phase (from /proc/stat): tells whether a phase waited or computed. */
function cpuSample(): { idle: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3]! + fields[4]!, total: fields.reduce((a, b) => a + b, 0) };
}
const busyPercent = (a: { idle: number; total: number }, b: { idle: number; total: number }) => Math.round(100 * (1 - (b.idle - a.idle) / Math.max(1, b.total - a.total)));

async function timeDeploy(targets: MigrationTarget[], limit: number, opts: { backend: DatabaseBackend; migrations: Migration[]; expectApplied: number; snapshots: boolean; deployId: string }): Promise<{ ms: number; busy: number }> {
  const cpuBefore = cpuSample();
  const nodeBefore = process.cpuUsage();
  const start = performance.now();
  // Lint is per deploy, not per database; the fan-out is what is measured.
  const outcomes = await deployMigrationsToTargets(targets, { backend: opts.backend, migrations: opts.migrations, deployId: opts.deployId, snapshotTtlHours: 1, concurrency: limit, snapshots: opts.snapshots, lint: false });
  const ms = performance.now() - start;
  const busy = busyPercent(cpuBefore, cpuSample());
  const node = process.cpuUsage(nodeBefore);
  console.log(`  (this process: ${((node.user + node.system) / 1000).toFixed(0)} ms CPU)`);
  const applied = outcomes.reduce((n, o) => n + o.applied.length, 0);
  if (applied !== opts.expectApplied * targets.length) throw new Error(`expected ${opts.expectApplied * targets.length} migrations applied, saw ${applied}`);
  if (opts.snapshots && outcomes.some((o) => !o.snapshot)) throw new Error("a deploy took no snapshot");
  return { ms, busy };
}

async function localRun(serverUrl: string) {
  console.log(`local: creating ${count * 2} databases…`);
  const seqTargets = await makeDatabases(serverUrl, "bench_fanout_seq");
  const conTargets = await makeDatabases(serverUrl, "bench_fanout_con");
  const migrations = loadMigrations(path.join(REPO_ROOT, "prisma", "migrations"));
  const backend = new LocalPostgresBackend(serverUrl);
  const run = { backend, migrations, expectApplied: migrations.length, snapshots: false, deployId: "bench" };
  try {
    const sequential = await timeDeploy(seqTargets, 1, run);
    console.log(`sequential: ${count} databases in ${(sequential.ms / 1000).toFixed(2)} s (${(sequential.ms / count).toFixed(0)} ms each), CPU busy ${sequential.busy}% of ${os.cpus().length} cores`);
    const concurrent = await timeDeploy(conTargets, concurrency, run);
    console.log(`concurrent (${concurrency} at once): ${count} databases in ${(concurrent.ms / 1000).toFixed(2)} s, CPU busy ${concurrent.busy}%`);
    console.log(`fanout-${count} concurrent/sequential = ${(concurrent.ms / sequential.ms).toFixed(2)} (local, CPU-bound on this machine: reported, not a target)`);
  } finally {
    await backend.close();
    await dropDatabases(serverUrl, [...seqTargets, ...conTargets]);
  }
}

/** Dedicated tenants on the Neon fake: snapshots through the API (latency), one migration each on a local database. */
async function neonRun(serverUrl: string) {
  const limit = Number(values["neon-concurrency"]);
  const fake = new NeonFake();
  fake.latency = { requestMs: [30, 80], operationMs: [500, 2_000] };
  const backend = new NeonBackend({ apiKey: fake.apiKey, apiBaseUrl: await fake.start() });
  const all = loadMigrations(path.join(REPO_ROOT, "prisma", "migrations"));
  const template = "bench_fanout_neon_template";
  try {
    console.log(`neon: ${count} tenant projects in the fake, and ${count * 2} local databases one migration behind…`);
    await admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).then(() => c.query(`CREATE DATABASE ${template}`)));
    const templateUrl = Object.assign(new URL(serverUrl), { pathname: `/${template}` }).toString();
    await applyPendingMigrations(templateUrl, all.slice(0, -1), { database: template });
    const projects = await mapSettledWithLimit(Array.from({ length: count }, (_, i) => i), limit, (i) => backend.ensureProject({ name: `bloom-bench-t${i}`, regionId: "aws-eu-central-1" }));
    const refs = projects.map((p) => {
      if (p.status === "rejected") throw p.reason;
      return p.value;
    });
    const targetsFor = async (prefix: string) => admin(serverUrl, async (c) => {
      const out: MigrationTarget[] = [];
      for (const [i, ref] of refs.entries()) {
        await c.query(`DROP DATABASE IF EXISTS ${prefix}_${i} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${prefix}_${i} TEMPLATE ${template}`);
        out.push({ name: `tenant:t${i}`, projectId: ref.projectId, branchId: ref.defaultBranchId, migratorUrl: Object.assign(new URL(serverUrl), { pathname: `/${prefix}_${i}` }).toString() });
      }
      return out;
    });
    const seqTargets = await targetsFor("bench_fanout_neon_seq");
    const conTargets = await targetsFor("bench_fanout_neon_con");
    const run = { backend, migrations: all, expectApplied: 1, snapshots: true };
    const sequential = await timeDeploy(seqTargets, 1, { ...run, deployId: "predeploy-bench-seq" });
    console.log(`sequential: ${count} tenants in ${(sequential.ms / 1000).toFixed(2)} s (${(sequential.ms / count).toFixed(0)} ms each: snapshot through the API + one migration)`);
    const concurrent = await timeDeploy(conTargets, limit, { ...run, deployId: "predeploy-bench-con" });
    console.log(`concurrent (${limit} at once): ${count} tenants in ${(concurrent.ms / 1000).toFixed(2)} s; fake: ${fake.requests.length} requests, ${fake.problems.length} problems`);
    if (fake.problems.length) throw new Error(`the Neon fake saw requests the real API would reject: ${fake.problems.slice(0, 3).join("; ")}`);
    console.log(`fanout-${count}-neon concurrent/sequential = ${(concurrent.ms / sequential.ms).toFixed(3)} (target <= 0.15; ideal ${(1 / limit).toFixed(3)})`);
    await dropDatabases(serverUrl, [...seqTargets, ...conTargets]);
  } finally {
    await backend.close();
    await fake.stop();
    await admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`));
  }
}

async function main() {
  const serverUrl = await ensureTestPostgres((m) => console.log(m));
  if (values.only !== undefined && !["local", "neon"].includes(values.only)) throw new Error(`--only must be local or neon (got "${values.only}")`);
  if (values.only !== "neon") await localRun(serverUrl);
  if (values.only !== "local") await neonRun(serverUrl);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
