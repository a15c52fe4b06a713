import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackConfig, REPO_ROOT } from "../../infra/config/stackFile";
import { stopLocalRestEndpoint } from "../../infra/kv/localEndpoint";
import { runWithTenant } from "@bloom/tenant-runtime";
import { findEngine } from "../../scripts/engine/engineLocation";
import { freePort } from "../../test/kvPort";
import { requirePostgres, TEST_PG_URL, uniqueName } from "../../test/postgres";

const engine = findEngine();
const mustRun = process.env.CI === "true";

/**
 * The plain CLI as the platform team types it (`bin/pulumi`, the Node language host beside the CLI): up, preview
 * with no changes, stack output, destroy — on a throw-away stack in its own project folder and file backend, with
 * the platform program (`main: stacks/platform/main.js`) and the tenant project's program (preview).
 */
describe.skipIf(!engine && !mustRun)("plain pulumi CLI (bin/pulumi) on the local stack program", () => {
  const stackName = uniqueName("e2e-cli");
  const root = path.join(REPO_ROOT, ".bloom", "e2e", stackName);
  const projectDir = path.join(root, "project");
  const tenantDir = path.join(root, "tenant");
  let kvPort = 0;
  const env = { ...process.env, PULUMI_BACKEND_URL: `file://${path.join(root, "state")}`, PULUMI_CONFIG_PASSPHRASE: "e2e-plain-cli", PULUMI_HOME: path.join(root, "home") };
  const pulumi = (args: string[], cwd = projectDir) => execFileSync(path.join(REPO_ROOT, "bin", "pulumi"), [...args, "--non-interactive"], { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

  beforeAll(async () => {
    if (!engine) throw new Error("CI=true and no Pulumi CLI was found: `npm run setup:pulumi` must run before the e2e suite");
    await requirePostgres();
    kvPort = await freePort();
    for (const dir of [projectDir, tenantDir, path.join(root, "state"), env.PULUMI_HOME]) mkdirSync(dir, { recursive: true });
    // The repo's Pulumi.yaml, pointed at the program by absolute path, so the stack file lives in this folder.
    writeFileSync(path.join(projectDir, "Pulumi.yaml"), stringify({ name: "bloom-platform", runtime: { name: "nodejs", options: { typescript: false } }, main: path.join(REPO_ROOT, "stacks", "platform", "main.js") }));
    const config: Record<string, unknown> = Object.fromEntries(Object.entries(readStackConfig("local")).map(([k, v]) => [k, v.startsWith("{") || v.startsWith("[") ? JSON.parse(v) : v]));
    config["bloom:database"] = { backend: "local", local: { serverUrl: TEST_PG_URL, poolerPort: Number(process.env.BLOOM_TEST_POOLER_PORT) } };
    config["bloom:kv"] = { backend: "local", local: { port: kvPort } };
    config["bloom:tenants"] = [...(config["bloom:tenants"] as object[]), { id: "acme", name: "Acme", tier: "enterprise", isolation: "dedicated" }];
    writeFileSync(path.join(projectDir, `Pulumi.${stackName}.yaml`), stringify({ config }));
    pulumi(["stack", "init", stackName]);
  });
  afterAll(async () => {
    try {
      pulumi(["destroy", "--yes", "-s", stackName]);
    } catch {
      // the test below destroyed it already, or up never ran
    }
    rmSync(root, { recursive: true, force: true });
    stopLocalRestEndpoint(kvPort, undefined, { forget: true });
  });

  it("up creates the stack; the app URL from `stack output --show-secrets` works as a tenant", async () => {
    const out = pulumi(["up", "--yes", "-s", stackName]);
    expect(out).toMatch(/\+ 2\d created/);
    const url = pulumi(["stack", "output", "appDatabaseUrl", "--show-secrets", "-s", stackName]).trim();
    const app = new Client({ connectionString: url });
    await app.connect();
    try {
      const rows = await runWithTenant(app, "legacy", async (c) => (await c.query("SELECT current_user AS u")).rows);
      expect(rows).toEqual([{ u: `bloom_local__bloom_app` }]);
    } finally {
      await app.end();
    }
  });

  it("preview right after up proposes no changes", () => {
    expect(() => pulumi(["preview", "--expect-no-changes", "-s", stackName])).not.toThrow();
  });

  it("preview with the policy pack passes; a config that breaks a mandatory rule fails it with the rule's message", () => {
    expect(pulumi(["preview", "-s", stackName, "--policy-pack", path.join(REPO_ROOT, "policies")])).toMatch(/bloom-platform/);
    const file = path.join(projectDir, `Pulumi.${stackName}.yaml`);
    const saved = readFileSync(file, "utf8");
    try {
      // No bloom:limits: the tenants have no rate-limit budget.
      writeFileSync(file, saved.replace(/ {2}bloom:limits:\n(?: {4}.*\n)+/, ""));
      let output = "";
      try {
        pulumi(["preview", "-s", stackName, "--policy-pack", path.join(REPO_ROOT, "policies")]);
      } catch (err) {
        output = `${(err as { stdout?: string }).stdout ?? ""}${(err as { stderr?: string }).stderr ?? ""}`;
      }
      expect(output).toMatch(/\[mandatory\]\s+tenant-has-budget/);
      expect(output).toMatch(/tenant legacy has no budget/);
    } finally {
      writeFileSync(file, saved);
    }
  });

  it("the tenant project runs under the plain CLI too, reading the platform stack by reference", () => {
    writeFileSync(path.join(tenantDir, "Pulumi.yaml"), stringify({ name: "bloom-tenant", runtime: { name: "nodejs", options: { typescript: false } }, main: path.join(REPO_ROOT, "stacks", "tenant", "main.js") }));
    const tenantStack = `${stackName}-acme`;
    writeFileSync(path.join(tenantDir, `Pulumi.${tenantStack}.yaml`), stringify({ config: { "bloom-tenant:tenantId": "acme", "bloom-tenant:environment": "local", "bloom-tenant:platformStack": `organization/bloom-platform/${stackName}` } }));
    pulumi(["stack", "init", tenantStack], tenantDir);
    const out = pulumi(["preview", "-s", tenantStack], tenantDir);
    expect(out).toMatch(/bloom:database:PoolDatabase\s+tenant-acme/);
    expect(out).toMatch(/\+ \d+ to create/);
    pulumi(["stack", "rm", "--yes", tenantStack], tenantDir);
  });

  it("destroy removes what up made", () => {
    const out = pulumi(["destroy", "--yes", "-s", stackName]);
    expect(out).toMatch(/- 2\d deleted/);
  });
});
