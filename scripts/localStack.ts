import { parseArgs } from "node:util";
import { openStackContext } from "./runbook/stackContext";

/**
 * Runs the platform program on the local stack with the real engine:
 *   npm run local -- up | preview | refresh | destroy | outputs   [--stack local] [--yes]
 * Config comes from Pulumi.<stack>.yaml; it is validated before the engine starts.
 */
const USAGE = "usage: npm run local -- <up|preview|refresh|destroy|outputs> [--stack <name>] [--yes]";

async function main() {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { stack: { type: "string", default: "local" }, yes: { type: "boolean", default: false } } });
  const action = positionals[0];
  if (!action || !["up", "preview", "refresh", "destroy", "outputs"].includes(action)) throw new Error(USAGE);
  if (action === "destroy" && !values.yes) throw new Error("destroy removes the local stack's databases and roles: rerun with --yes");
  // Bad config stops here, before the engine starts (the context validates the stack file).
  const { stack } = await openStackContext({ stackName: values.stack! });
  const onOutput = (line: string) => process.stdout.write(line);
  switch (action) {
    case "up": {
      const res = await stack.up({ onOutput });
      printOutputs(res.outputs);
      break;
    }
    case "preview":
      await stack.preview({ onOutput, diff: true });
      break;
    case "refresh":
      await stack.refresh({ onOutput });
      break;
    case "destroy":
      await stack.destroy({ onOutput });
      break;
    case "outputs":
      printOutputs(await stack.outputs());
      break;
  }
}

/** Secrets stay masked: connection strings are read with `pulumi stack output --show-secrets` by those who need them. */
function printOutputs(outputs: Record<string, { value: unknown; secret: boolean }>) {
  for (const [key, { value, secret }] of Object.entries(outputs)) {
    process.stdout.write(`${key.padEnd(22)} ${secret ? "[secret]" : JSON.stringify(value)}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
