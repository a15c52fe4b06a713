import { parseArgs } from "node:util";
import { openStackContext } from "./runbook/stackContext";
import { localServicesOf } from "./services/localServices";
import { loadStackConfig } from "../infra/config/stackFile";

/**
 * Runs the platform program on the local stack with the real engine:
 *   npm run local -- up | preview | refresh | destroy | outputs [--show-secrets] | stop   [--stack local] [--yes]
 * Config comes from Pulumi.<stack>.yaml; it is validated before the engine starts. The state is the checkout's
 * file backend, shared with the plain CLI (`bin/pulumi … -s local`).
 */
const USAGE = "usage: npm run local -- <up|preview|refresh|destroy|outputs|stop> [--stack <name>] [--yes] [--show-secrets]";

async function main() {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { stack: { type: "string", default: "local" }, yes: { type: "boolean", default: false }, "show-secrets": { type: "boolean", default: false } } });
  const action = positionals[0];
  if (!action || !["up", "preview", "refresh", "destroy", "outputs", "stop"].includes(action)) throw new Error(USAGE);
  if (action === "stop") return stopServices(values.stack!);
  if (action === "destroy" && !values.yes) throw new Error("destroy removes the local stack's databases and roles: rerun with --yes");
  // Bad config stops here, before the engine starts (the context validates the stack file).
  const ctx = await openStackContext({ stackName: values.stack! });
  const { stack } = ctx;
  const onOutput = (line: string) => process.stdout.write(line);
  switch (action) {
    case "up": {
      const res = await stack.up({ onOutput });
      printOutputs(res.outputs, false);
      break;
    }
    case "preview":
      await stack.preview({ onOutput, diff: true });
      break;
    case "refresh":
      await stack.refresh({ onOutput });
      break;
    case "destroy": {
      await stack.destroy({ onOutput });
      const running = localServicesOf(ctx.config).filter((s) => s.running());
      if (running.length) {
        process.stdout.write(`\nStill running for this checkout (shared by its local stacks): ${running.map((s) => s.name).join(", ")}.\n`);
        process.stdout.write(`Stop them with \`npm run local -- stop${values.stack === "local" ? "" : ` --stack ${values.stack}`}\`.\n`);
      }
      break;
    }
    case "outputs":
      printOutputs(await stack.outputs(), values["show-secrets"]!);
      break;
  }
}

/** Secrets stay masked unless asked for (`outputs --show-secrets`, like `pulumi stack output --show-secrets`). */
function printOutputs(outputs: Record<string, { value: unknown; secret: boolean }>, showSecrets: boolean) {
  for (const [key, { value, secret }] of Object.entries(outputs)) {
    process.stdout.write(`${key.padEnd(22)} ${secret && !showSecrets ? "[secret]" : JSON.stringify(value)}\n`);
  }
}

/** Ends the local services this checkout started for the stack's config; no engine needed. */
function stopServices(stackName: string) {
  for (const service of localServicesOf(loadStackConfig(stackName).config)) {
    if (!service.running()) {
      process.stdout.write(`${service.name}: not running\n`);
      continue;
    }
    service.stop();
    process.stdout.write(`${service.name}: stopped\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
