import path from "node:path";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { loadMigrations } from "../../infra/migrations/migrationSource";
import { collectStatus, renderStatus } from "../../infra/status/environmentStatus";
import { openStore } from "./flagCommands";
import type { StackContext } from "./stackContext";

/** `bloom status [--json] [--watch]`: one look at the environment; --watch redraws every 5 s until Ctrl-C. */
export async function statusCommand(ctx: StackContext, opts: { json: boolean; watch: boolean; say: (line: string) => void }): Promise<void> {
  const [migratorUrl, projectId, store, backend, appRoleName, appUrl] = await Promise.all([ctx.output<string>("migratorDatabaseUrl"), ctx.output<string>("poolProjectId"), openStore(ctx), ctx.backend(),
    ctx.output<string>("appRoleName"), ctx.output<string>("appDatabaseUrl")]);
  const migrations = loadMigrations(path.resolve(REPO_ROOT, ctx.config.migrations.dir));
  try {
    for (;;) {
      const status = await collectStatus({ stack: ctx.stackName, config: ctx.config, migratorUrl, store, backend, projectId, migrations, appRole: { name: appRoleName, pooledUrl: appUrl } });
      if (opts.watch && !opts.json) process.stdout.write("\x1b[2J\x1b[H");
      opts.say(opts.json ? JSON.stringify(status, null, 2) : renderStatus(status).trimEnd());
      if (!opts.watch) return;
      await new Promise((r) => setTimeout(r, 5_000));
    }
  } finally {
    await backend.close();
  }
}
