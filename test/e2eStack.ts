import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse, stringify } from "yaml";
import { REPO_ROOT, stackFilePath } from "../infra/config/stackFile";
import { freePort } from "./kvPort";
import { TEST_PG_URL } from "./postgres";

/**
 * A throw-away stack file for an e2e suite: the local stack's config pointed at the test server, pooler and Redis,
 * with its own copy of the migrations folder (a suite may add migrations) and its own key-value endpoint port.
 * `edit` changes the config before it is written.
 */
export async function e2eStackFile(stackName: string, edit: (config: Record<string, unknown>) => void = () => undefined) {
  const root = path.join(REPO_ROOT, ".bloom", "e2e");
  const dir = path.join(root, stackName);
  const configFile = path.join(dir, `Pulumi.${stackName}.yaml`);
  const migrationsDir = path.join(dir, "migrations");
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(REPO_ROOT, "prisma", "migrations"), migrationsDir, { recursive: true });
  const kvPort = await freePort();
  const file = parse(readFileSync(stackFilePath("local"), "utf8")) as { config: Record<string, unknown> };
  file.config["bloom:database"] = { backend: "local", local: { serverUrl: TEST_PG_URL, poolerPort: Number(process.env.BLOOM_TEST_POOLER_PORT) } };
  file.config["bloom:migrations"] = { dir: migrationsDir, snapshotTtlHours: 24 };
  file.config["bloom:kv"] = { backend: "local", local: { port: kvPort } };
  edit(file.config);
  writeFileSync(configFile, stringify({ config: file.config }));
  return { root, dir, configFile, migrationsDir, kvPort };
}

/** What an e2e suite with a tenant stack leaves: that stack and the platform stack destroyed and removed, their folders, the endpoint. */
export async function tearDownTenantE2e(ctx: import("../scripts/runbook/stackContext").StackContext | undefined, tenant: string, e2e: { dir: string; root: string; kvPort: number }): Promise<void> {
  const { stopLocalRestEndpoint } = await import("../infra/kv/localEndpoint");
  if (ctx) await tearDownTenantStack(ctx, tenant, e2e.root);
  await ctx?.stack.destroy().catch(() => undefined);
  await ctx?.stack.workspace.removeStack(ctx.stackName).catch(() => undefined);
  rmSync(e2e.dir, { recursive: true, force: true });
  stopLocalRestEndpoint(e2e.kvPort, undefined, { forget: true });
}

/** One tenant stack of a throw-away platform stack destroyed and removed, with its work dir. */
export async function tearDownTenantStack(ctx: import("../scripts/runbook/stackContext").StackContext, tenant: string, root: string): Promise<void> {
  const { tenantHandle } = await import("../scripts/runbook/tenantStackAccess");
  const tenantStack = await tenantHandle(ctx, tenant).openStack().catch(() => undefined);
  await tenantStack?.destroy().catch(() => undefined);
  await tenantStack?.workspace.removeStack(tenantStack.name).catch(() => undefined);
  rmSync(path.join(root, `local-${tenant}`), { recursive: true, force: true });
}
