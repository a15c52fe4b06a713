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
import { loadMigrations } from "../../infra/migrations/migrationSource";
import { ensureTestPostgres } from "../services/ensurePostgres";

/**
 * bench:fanout — the reference migrations on N fresh local databases, through the deploy hook's fan-out, once
 * one database at a time and once with bounded concurrency, in the same run. Target (design §8): concurrent takes
 * <= 0.35x the sequential time for 100 databases.
 */
const { values } = parseArgs({ options: { databases: { type: "string", default: "100" }, concurrency: { type: "string", default: "16" } } });
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
    for (const t of targets) await c.query(`DROP DATABASE IF EXISTS ${t.name} WITH (FORCE)`);
  });
}

/** Machine-wide CPU use over a phase (from /proc/stat): tells whether a phase waited or computed. */
function cpuSample(): { idle: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3]! + fields[4]!, total: fields.reduce((a, b) => a + b, 0) };
}
const busyPercent = (a: { idle: number; total: number }, b: { idle: number; total: number }) => Math.round(100 * (1 - (b.idle - a.idle) / Math.max(1, b.total - a.total)));

async function timeDeploy(targets: MigrationTarget[], limit: number, serverUrl: string): Promise<{ ms: number; busy: number }> {
  const migrations = loadMigrations(path.join(REPO_ROOT, "prisma", "migrations"));
  const backend = new LocalPostgresBackend(serverUrl);
  const cpuBefore = cpuSample();
  const nodeBefore = process.cpuUsage();
  const start = performance.now();
  // Snapshots and lint are per deploy, not per database; the fan-out of migrations is what is measured.
  const outcomes = await deployMigrationsToTargets(targets, { backend, migrations, deployId: "bench", snapshotTtlHours: 1, concurrency: limit, snapshots: false, lint: false });
  const ms = performance.now() - start;
  const busy = busyPercent(cpuBefore, cpuSample());
  const node = process.cpuUsage(nodeBefore);
  console.log(`  (this process: ${((node.user + node.system) / 1000).toFixed(0)} ms CPU)`);
  await backend.close();
  const applied = outcomes.reduce((n, o) => n + o.applied.length, 0);
  if (applied !== migrations.length * targets.length) throw new Error(`expected ${migrations.length * targets.length} migrations applied, saw ${applied}`);
  return { ms, busy };
}

async function main() {
  const serverUrl = await ensureTestPostgres((m) => console.log(m));
  console.log(`creating ${count * 2} databases…`);
  const seqTargets = await makeDatabases(serverUrl, "bench_fanout_seq");
  const conTargets = await makeDatabases(serverUrl, "bench_fanout_con");
  try {
    const sequential = await timeDeploy(seqTargets, 1, serverUrl);
    console.log(`sequential: ${count} databases in ${(sequential.ms / 1000).toFixed(2)} s (${(sequential.ms / count).toFixed(0)} ms each), CPU busy ${sequential.busy}% of ${os.cpus().length} cores`);
    const concurrent = await timeDeploy(conTargets, concurrency, serverUrl);
    console.log(`concurrent (${concurrency} at once): ${count} databases in ${(concurrent.ms / 1000).toFixed(2)} s, CPU busy ${concurrent.busy}%`);
    console.log(`fanout-${count} concurrent/sequential = ${(concurrent.ms / sequential.ms).toFixed(2)} (target <= 0.35)`);
  } finally {
    await dropDatabases(serverUrl, [...seqTargets, ...conTargets]);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
