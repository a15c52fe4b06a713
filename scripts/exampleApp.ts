import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../infra/config/stackFile";
import type { StackContext } from "./runbook/stackContext";

/**
 * The example app (examples/bloom-app) on a stack's outputs: what the app is deployed with — the pooled app URL,
 * the store's scoped tokens and prefix, a session secret — passed through its environment, never its command line.
 * `npm run example:app [-- --stack local --port 3000]` builds it once and serves it; the gates harness uses the same.
 */
export const EXAMPLE_APP_DIR = path.join(REPO_ROOT, "examples", "bloom-app");
const nextBin = () => require.resolve("next/dist/bin/next", { paths: [EXAMPLE_APP_DIR] });

type Outputs = Record<string, { value: unknown }>;

export interface ExampleAppOptions {
  sessionSecret: string;
  /** POST /api/session signs anyone in (tests and benches only). */
  testLogin?: boolean;
  /** The bug a gate must catch, switched on at run time (examples/bloom-app/README.md). */
  mutant?: "tenantless-list" | "unbound-prisma";
  /** GET /api/debug/stats counts what the app's pools send (bench:tenant-load's N+1 check). */
  statementCounts?: boolean;
  /** The secret-store stand-in with dedicated tenants' URLs (writeTenantUrls). */
  tenantUrlsFile?: string;
}

export function exampleAppEnv(outputs: Outputs, opts: ExampleAppOptions): NodeJS.ProcessEnv {
  const out = (name: string) => {
    const v = outputs[name]?.value;
    if (typeof v !== "string") throw new Error(`the stack has no output "${name}": run \`pulumi up\` first`);
    return v;
  };
  return {
    ...process.env,
    NEXT_TELEMETRY_DISABLED: "1",
    DATABASE_URL: out("appDatabaseUrl"),
    BLOOM_KV_URL: out("kvRestUrl"),
    BLOOM_KV_READ_TOKEN: out("kvAppReadToken"),
    BLOOM_KV_LIMITER_TOKEN: out("kvAppLimiterToken"),
    BLOOM_KV_PREFIX: out("kvKeyPrefix"),
    SESSION_SECRET: opts.sessionSecret,
    BLOOM_APP_TEST_LOGIN: opts.testLogin ? "1" : "",
    BLOOM_APP_MUTANT: opts.mutant ?? "",
    BLOOM_APP_STATEMENT_COUNTS: opts.statementCounts ? "1" : "",
    BLOOM_TENANT_URLS_FILE: opts.tenantUrlsFile ?? "",
  };
}

/**
 * The example app's secret-store stand-in: a JSON file (mode 600) mapping each given tenant to its stack's
 * `appDatabaseUrl` — tenants without a stack, or whose stack has no such output yet, are left out (no stack is
 * created). Returns the tenants written.
 */
export async function writeTenantUrls(ctx: StackContext, tenantIds: string[], file: string): Promise<string[]> {
  const { tenantHandle } = await import("./runbook/tenantStackAccess");
  const { listTenantStacks } = await import("./engine/tenantStack");
  const existing = tenantIds.length ? new Set(await listTenantStacks(ctx.root)) : new Set<string>();
  const urls: Record<string, string> = {};
  for (const id of tenantIds) {
    const handle = tenantHandle(ctx, id);
    if (!existing.has(handle.dedicated.stack)) continue; // opening it would create it
    const stack = await handle.openStack().catch(() => undefined);
    const url = (await stack?.outputs().catch(() => undefined))?.appDatabaseUrl?.value;
    if (typeof url === "string") urls[id] = url;
  }
  writeFileSync(`${file}.tmp`, JSON.stringify(urls), { mode: 0o600 });
  renameSync(`${file}.tmp`, file); // the app never reads half a file
  return Object.keys(urls);
}

export function buildExampleApp(): void {
  const build = spawnSync(process.execPath, [nextBin(), "build"], { cwd: EXAMPLE_APP_DIR, encoding: "utf8", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" }, timeout: 600_000 });
  if (build.status !== 0) throw new Error(`next build failed:\n${build.stdout}\n${build.stderr}`);
}

export interface RunningExampleApp {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The app's server (server.ts: Next.js behind the runtime's front door) on loopback; resolves once it answers. */
export async function startExampleApp(env: NodeJS.ProcessEnv, port: number, opts: { echo?: boolean; nodeArgs?: string[] } = {}): Promise<RunningExampleApp> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), "--import", "tsx", "server.ts"], { cwd: EXAMPLE_APP_DIR, env: { ...env, PORT: String(port), HOSTNAME: "127.0.0.1" }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout!.on("data", (d) => (opts.echo ? process.stdout.write(d) : (log += d)));
  child.stderr!.on("data", (d) => (opts.echo ? process.stderr.write(d) : (log += d)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  for (let i = 0; i < 120; i++) {
    if (await fetch(`${url}/api/session`, { method: "POST", body: "{}" }).then(() => true, () => false)) return { url, process: child, stop };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`the example app did not start on ${url}:\n${log}`);
}

async function main() {
  const { values } = parseArgs({ options: { stack: { type: "string", default: "local" }, port: { type: "string", default: "3000" }, rebuild: { type: "boolean", default: false } } });
  const { openStackContext } = await import("./runbook/stackContext");
  const ctx = await openStackContext({ stackName: values.stack! });
  const outputs = await ctx.stack.outputs();
  // A local stack's services may have been stopped since its `up` (`npm run local -- stop`): start them again.
  const { reviveLocalEndpoint } = await import("../infra/kv/localEndpoint");
  await reviveLocalEndpoint(String(outputs.kvRestUrl?.value ?? ""));
  if (values.rebuild || !existsSync(path.join(EXAMPLE_APP_DIR, ".next", "BUILD_ID"))) buildExampleApp();
  // Dedicated tenants' URLs, from their stacks, where the app's secret store would hold them.
  const tenantUrlsFile = path.join(REPO_ROOT, ".bloom", `example-app-${values.stack}-tenant-urls.json`);
  const dedicated = ctx.config.tenants.filter((t) => t.isolation === "dedicated").map((t) => t.id);
  const written = await writeTenantUrls(ctx, dedicated, tenantUrlsFile);
  if (dedicated.length) process.stdout.write(`dedicated tenants' URLs for the app: ${written.join(", ") || "none yet"} (${tenantUrlsFile})\n`);
  const app = await startExampleApp(exampleAppEnv(outputs, { sessionSecret: randomBytes(24).toString("base64url"), testLogin: true, tenantUrlsFile }), Number(values.port), { echo: true });
  process.stdout.write(`the example app serves ${app.url} for stack ${values.stack} (Ctrl-C stops it); sign in with POST /api/session {"clinicId","patientId"}\n`);
  const stop = () => void app.stop().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (require.main === module) {
  main().catch((err) => {
    console.error((err as Error).message);
    process.exit(1);
  });
}
