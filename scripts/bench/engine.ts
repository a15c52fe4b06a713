import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import path from "node:path";
import { parseArgs } from "node:util";
import { parse, stringify } from "yaml";
import { REPO_ROOT, stackFilePath } from "../../infra/config/stackFile";
import { stopLocalRestEndpoint } from "../../infra/kv/localEndpoint";
import startServices from "../../test/globalSetup";
import { leftoverProjects, removeProjects } from "../../test/stackLeftovers";
import { freePort } from "../../test/kvPort";
import { findEngine } from "../engine/engineLocation";

/**
 * bench:engine — the platform stack with N pooled tenants on the real engine, through the plain CLI (`bin/pulumi`)
 * as the platform team runs it, on a throw-away local stack (its own project folder, file backend and databases):
 * the timed first `up`, a no-change preview without and with the policy pack, and a one-tenant change. Targets
 * (issue 21, for 1,000 tenants): first up <= 300 s, preview <= 15 s (with the pack <= 20 s), peak RSS printed
 * (<= 6 GB at 10,000). `--program <checkout>` runs another checkout's program (a before arm), with this checkout's
 * engine. The throw-away stack is removed at the end by deleting its databases through the local backend and its
 * state folder (an engine destroy rewrites the state after every deletion: over ten minutes at 1,000 tenants);
 * `--destroy` times the engine's destroy instead, `--keep` leaves the stack. `--skip-checkpoints` runs the engine with
 * PULUMI_SKIP_CHECKPOINTS (only the final state is written, not one checkpoint per step): a measurement of what the
 * checkpoints cost, not how the platform runs — a kill mid-`up` then loses the run's record.
 */
const { values } = parseArgs({ options: { tenants: { type: "string", default: "1000" }, program: { type: "string" }, keep: { type: "boolean", default: false }, destroy: { type: "boolean", default: false }, "skip-checkpoints": { type: "boolean", default: false } } });
const tenants = Number(values.tenants);
if (!Number.isInteger(tenants) || tenants < 1) throw new Error(`--tenants must be a positive integer (got ${values.tenants})`);
const checkout = path.resolve(values.program ?? REPO_ROOT);
const programMain = path.join(checkout, "stacks", "platform", "main.js");
statSync(programMain); // a clear ENOENT naming the file when --program is not a checkout
if (!findEngine()) throw new Error("no Pulumi CLI: run `npm run setup:pulumi` first");

const stackName = `bench-engine-${tenants}-${process.pid}`;
const root = path.join(REPO_ROOT, ".bloom", "bench-engine", stackName);
const projectDir = path.join(root, "project");
const stateDir = path.join(root, "state");
const env: NodeJS.ProcessEnv = { ...process.env, PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: "bench-engine", PULUMI_HOME: path.join(root, "home") };
if (values["skip-checkpoints"]) env.PULUMI_SKIP_CHECKPOINTS = "true";
const peaks: number[] = [];

/** One CLI run, timed, with the peak resident memory of its largest process (GNU time's %M: the engine, the language host or a plugin). */
function pulumi(label: string, args: string[]): { seconds: number; output: string } {
  const rss = path.join(root, "rss");
  const start = performance.now();
  const output = runOrSay(() => execFileSync("/usr/bin/time", ["-f", "%M", "-o", rss, path.join(REPO_ROOT, "bin", "pulumi"), ...args, "--non-interactive", "-s", stackName],
    { cwd: projectDir, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024 }), label);
  const seconds = (performance.now() - start) / 1000;
  const peakKb = Number(readFileSync(rss, "utf8").trim().split("\n").pop());
  peaks.push(peakKb);
  console.log(`${label.padEnd(34)} ${seconds.toFixed(1).padStart(7)} s   peak RSS ${(peakKb / 1024).toFixed(0)} MB   ${summary(output)}`);
  return { seconds, output };
}
/** A failed CLI run throws with the engine's own last lines, not only the command line. */
function runOrSay(run: () => string, label: string): string {
  try {
    return run();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${label} failed:\n${[e.stdout, e.stderr].filter(Boolean).join("\n").split("\n").slice(-30).join("\n") || e.message}`);
  }
}
/** What another checkout's program started for the before arm: its PgBouncer, its store Redis, its key-value endpoints. */
function stopServicesOf(other: string, ports: { poolerPort: number; redisPort: number }): void {
  const kill = (pattern: string) => spawnSync("pkill", ["-f", pattern]);
  kill(`pgbouncer -d ${path.join(other, ".bloom", `pgbouncer-${ports.poolerPort}`)}`);
  kill(`${path.join(other, "infra", "kv", "localEndpointMain")}`);
  kill(`redis-server 127.0.0.1:${ports.redisPort}`);
}

const summary = (out: string) => (out.slice(out.lastIndexOf("Resources:")).match(/^\s+[+~-]?\s*\d+ (?:created|updated|deleted|unchanged|to create|to update|to delete)$/gm) ?? []).map((l) => l.trim()).join(", ");
const tenantEntry = (i: number) => ({ id: `bench-${i}`, name: `Bench Clinic ${i}`, tier: "standard", isolation: "pooled" });

async function main() {
  await startServices();
  const kvPort = await freePort();
  // Another checkout's program starts its own store Redis and PgBouncer (each belongs to one checkout): on ports of its own.
  const poolerPort = checkout === REPO_ROOT ? Number(process.env.BLOOM_TEST_POOLER_PORT) : await freePort();
  if (checkout !== REPO_ROOT) env.BLOOM_STORE_REDIS_PORT = String(await freePort());
  for (const dir of [projectDir, stateDir, env.PULUMI_HOME!]) mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(projectDir, "Pulumi.yaml"), stringify({ name: "bloom-platform", runtime: { name: "nodejs", options: { typescript: false } }, main: programMain }));
  const base = (parse(readFileSync(stackFilePath("local"), "utf8")) as { config: Record<string, unknown> }).config; // as e2eStackFile reads it
  const writeConfig = (n: number) => {
    const config = { ...base, "bloom:database": { backend: "local", local: { serverUrl: process.env.BLOOM_TEST_PG_URL, poolerPort } },
      "bloom:kv": { backend: "local", local: { port: kvPort } },
      "bloom:tenants": [...(base["bloom:tenants"] as object[]), ...Array.from({ length: n }, (_, i) => tenantEntry(i))] };
    writeFileSync(path.join(projectDir, `Pulumi.${stackName}.yaml`), stringify({ config }));
  };
  console.log(`bench:engine: ${tenants} pooled tenants, program ${path.relative(REPO_ROOT, programMain) || programMain}, stack ${stackName}${values["skip-checkpoints"] ? ", PULUMI_SKIP_CHECKPOINTS (one state write per run)" : ""}`);
  writeConfig(tenants);
  execFileSync(path.join(REPO_ROOT, "bin", "pulumi"), ["stack", "init", stackName, "--non-interactive"], { cwd: projectDir, env, stdio: "ignore" });
  const lines: string[] = [];
  const projectsBefore = new Set(await leftoverProjects(process.env.BLOOM_TEST_PG_URL!));
  try {
    const first = pulumi(`first up (${tenants} new tenants)`, ["up", "--yes"]);
    const stateFile = path.join(stateDir, ".pulumi", "stacks", "bloom-platform", `${stackName}.json`);
    const stateBytes = statSync(stateFile).size;
    const resources = (JSON.parse(readFileSync(stateFile, "utf8")).checkpoint?.latest?.resources ?? []).length;
    console.log(`state file ${(stateBytes / 1024 / 1024).toFixed(1)} MB, ${resources} resources, ${(stateBytes / Math.max(1, resources) / 1024).toFixed(1)} KB a resource`);
    const preview = pulumi("no-change preview", ["preview", "--expect-no-changes"]);
    const withPack = pulumi("no-change preview with the policy pack", ["preview", "--expect-no-changes", "--policy-pack", path.join(REPO_ROOT, "policies")]);
    writeConfig(tenants + 1);
    const one = pulumi("one more tenant (up)", ["up", "--yes"]);
    lines.push(`first up = ${first.seconds.toFixed(1)} s (target <= 300 s at 1000); preview with the pack = ${withPack.seconds.toFixed(1)} s (target <= 20 s); one-tenant change = ${one.seconds.toFixed(1)} s (target <= 10 s)`);
    lines.push(`engine-preview-${tenants} = ${preview.seconds.toFixed(1)} s (target <= 15 s)`);
  } finally {
    if (values.keep) console.log(`kept: ${root}`);
    else {
      if (values.destroy) pulumi("destroy", ["destroy", "--yes"]);
      else await removeProjects(process.env.BLOOM_TEST_PG_URL!, { keep: projectsBefore }); // the projects this run made
      rmSync(root, { recursive: true, force: true });
      stopLocalRestEndpoint(kvPort, undefined, { forget: true });
      if (checkout !== REPO_ROOT) stopServicesOf(checkout, { poolerPort, redisPort: Number(env.BLOOM_STORE_REDIS_PORT) });
    }
  }
  // The headline last, as in every bench; peak RSS over every run above.
  lines.splice(-1, 0, `peak RSS = ${(Math.max(...peaks) / 1024).toFixed(0)} MB (target <= 6 GB at 10,000)`);
  for (const line of lines) console.log(line);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
