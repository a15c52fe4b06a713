import { parseArgs } from "node:util";
import { migrateDeploy, migrateResolve, migrateStatus } from "./runbook/migrateCommands";
import { flagLog, getFlag, killFlag, listFlags, setFlag } from "./runbook/flagCommands";
import { relaxTenancy, restoreTenancy, syncTenancyMode, tenancyStatus } from "./runbook/tenancyCommands";
import { backfillCommand } from "./runbook/backfillCommand";
import { rollbackTo, undoRollback } from "./runbook/rollbackCommands";
import { createSnapshot, deleteSnapshot, listSnapshots } from "./runbook/snapshotCommands";
import { openStackContext } from "./runbook/stackContext";
import { ropaFor } from "./compliance/ropaCommand";
import { rewriteProviderState } from "./runbook/providerRewrite";
import { statusCommand } from "./runbook/statusCommand";
import { offboardCommand, verifyExportCommand } from "./runbook/offboardCommand";
import { migrateAll, syncTenantStacks } from "./runbook/tenantSync";
import { stagingRefresh } from "./runbook/stagingCommands";
import { durablePurges, purgeScheduleStatus } from "./controlPlane/purgeSchedule";
import { moveOnControlPlane } from "./controlPlane/moveWorkflow";
import { workerCommand } from "./controlPlane/workerCommand";
import { syncOnControlPlane } from "./controlPlane/syncWorkflow";
import { migrateOnControlPlane } from "./controlPlane/migrateWorkflow";
import { abortCommand, moveTenantCommand, parseCopyRate, parseMaxImpact, parseGrace, purgeCommand, tenantsStatus } from "./runbook/tenantCommands";

/** The runbook CLI: `npm run bloom -- <command> [options]`. See docs/runbooks/. */
const USAGE = `usage: npm run bloom -- <command> [--stack <name>] [--config <stack file>] [--yes] [--dry-run]
  snapshot create [--name <n>] [--from <branch>] [--ttl-hours <h>]
  snapshot list
  snapshot delete <name>
  rollback --to <snapshot> [--restore]
  rollback --undo
  migrate status | deploy [--all] | resolve (--rolled-back <name> | --applied <name>)
                                     (--all: the pool and every dedicated tenant, each behind its own snapshot;
                                      --all --workflow [--detach]: the same on the control plane)
  backfill [--batch-size <n>] [--legacy <clinic>]
  tenancy status | sync | relax | restore
  flags list | get <flag> [--tenant <id>] | set <flag> <true|false> [--tenant <id>] | history [<flag>] | kill <flag> | unkill <flag>
  tenants status
  tenants sync [--concurrency 4]     (tenant stacks made to match the catalog: create, update, destroy if empty)
      … [--workflow [--detach]]      (on the control plane: a child workflow per stack, any worker runs its engine)
  tenants extract <id> [--grace 7d]  (pool → its own database: fence, copy, verify, cutover; --grace 0 purges at once)
  tenants return <id> [--grace 7d]   (its own database → the pool, the same way)
      … [--online [--copy-rate 20] [--max-impact 2]]
                                     (either way while the tenant keeps writing: row-filtered logical replication,
                                      a freeze of a fraction of a second; --copy-rate caps the initial copy in MB/s;
                                      the copy waits while a write at the source is over --max-impact times slower
                                      than before it (default 2, 0: never); Neon: add --enable-logical-replication)
      … [--workflow [--detach]]      (either way on the control plane: a worker runs the move, which outlives
                                      this command; Ctrl-C or --detach leaves it running, the same command follows it)
  tenants purge <id> [--now]         (the old copy a move left, after the grace period; a move with a grace period
                                     schedules it on the control plane, which runs it then with no command)
  tenants abort <id>                 (undo a move that has not cut over)
  tenants offboard <id> --export <dir>  (export encrypted with BLOOM_EXPORT_KEY, verify, erase everywhere, evidence)
  tenants verify-export <dir>        (an export against its manifest, with BLOOM_EXPORT_KEY)
  staging refresh [--from prod] [--tenants a,b | --sample 10%] [--from-config <file>]
                                     (a masked copy of the source's pooled tenants in a new branch, verified against
                                      the source by keyed hashes, then the app repointed; BLOOM_STAGING_RUN_KEY repeats
                                      a run's masked values; --dry-run prints the masking and the row counts)
  ropa [--format md|json]            (the GDPR Art. 30 records, from the stack file; no engine needed)
  status [--json] [--watch]          (tenants, rows, rejections, RLS mode, migrations, snapshots)
  state rewrite-providers            (state from before providers were kept by reference: each dynamic resource's
                                      __provider replaced by its reference, in the platform and tenant stacks,
                                      by export and import; a preview after must propose nothing)
  worker [--address h:p] [--namespace n] [--max-activities 4] [--engine-runs 2]
                                     (a control-plane worker until Ctrl-C; default: this machine's dev server)`;

/** `--concurrency 4` (a whole number above 0) or undefined. */
function parseConcurrency(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--concurrency "${value}": give how many tenant stacks to sync at once, a whole number above 0 (e.g. 4)`);
  return n;
}

async function main(argv: string[]) {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stack: { type: "string", default: "local" },
      // A stack file outside the repo, and where its work dirs and state live (tests, other checkouts' stacks).
      config: { type: "string" },
      root: { type: "string" },
      yes: { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
      name: { type: "string" },
      from: { type: "string" },
      "ttl-hours": { type: "string" },
      to: { type: "string" },
      undo: { type: "boolean", default: false },
      restore: { type: "boolean", default: false },
      "rolled-back": { type: "string" },
      applied: { type: "string" },
      tenant: { type: "string" },
      "batch-size": { type: "string" },
      legacy: { type: "string" },
      help: { type: "boolean", default: false },
      format: { type: "string", default: "md" },
      json: { type: "boolean", default: false },
      watch: { type: "boolean", default: false },
      grace: { type: "string" },
      online: { type: "boolean", default: false },
      workflow: { type: "boolean", default: false },
      detach: { type: "boolean", default: false },
      "copy-rate": { type: "string" },
      "max-impact": { type: "string" },
      "enable-logical-replication": { type: "boolean", default: false },
      now: { type: "boolean", default: false },
      export: { type: "string" },
      all: { type: "boolean", default: false },
      concurrency: { type: "string" },
      "from-config": { type: "string" },
      tenants: { type: "string" },
      sample: { type: "string" },
      address: { type: "string" },
      namespace: { type: "string" },
      "max-activities": { type: "string" },
      "engine-runs": { type: "string" },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) return console.log(USAGE);
  const say = (line: string) => console.log(line);
  const common = { yes: values.yes, dryRun: values["dry-run"], say };
  if (command === "ropa") {
    if (values.format !== "md" && values.format !== "json") throw new Error(`--format must be md or json (got "${values.format}")`);
    process.stdout.write(await ropaFor(values.stack!, values.format));
    return;
  }
  if (command === "tenants" && sub === "verify-export" && arg) return verifyExportCommand(arg, say);
  if (command === "worker") return workerCommand({ address: values.address, namespace: values.namespace, maxActivities: values["max-activities"], engineRuns: values["engine-runs"] }, say);
  const ctx = await openStackContext({ stackName: values.stack!, configFile: values.config, root: values.root });

  if (command === "staging" && sub === "refresh") {
    await stagingRefresh(ctx, { ...common, from: values.from, fromConfig: values["from-config"], tenants: values.tenants, sample: values.sample });
  } else if (command === "state" && sub === "rewrite-providers") {
    await rewriteProviderState(ctx, { dryRun: values["dry-run"], say });
  } else if (command === "status") {
    await statusCommand(ctx, { json: values.json!, watch: values.watch!, say });
  } else if (command === "tenants" && sub === "status") {
    await tenantsStatus(ctx, say, purgeScheduleStatus(ctx));
  } else if (command === "tenants" && (sub === "extract" || sub === "return") && arg) {
    await moveTenantCommand(ctx, arg, sub, { ...common, graceMs: parseGrace(values.grace), schedulePurge: durablePurges(ctx, say), online: values.online,
      ...(values.workflow ? { workflow: { run: moveOnControlPlane(ctx, say), detach: values.detach! } } : {}), enableLogicalReplication: values["enable-logical-replication"], copyRateMBps: parseCopyRate(values["copy-rate"]), maxImpact: parseMaxImpact(values["max-impact"]) });
  } else if (command === "tenants" && sub === "purge" && arg) {
    await purgeCommand(ctx, arg, { now: values.now, dryRun: common.dryRun, say });
  } else if (command === "tenants" && sub === "sync") {
    const concurrency = parseConcurrency(values.concurrency);
    if (values.workflow && !common.dryRun) await syncOnControlPlane(ctx, { concurrency: concurrency ?? 4, detach: values.detach!, say });
    else await syncTenantStacks(ctx, { concurrency, dryRun: common.dryRun, say });
  } else if (command === "tenants" && sub === "offboard" && arg) {
    await offboardCommand(ctx, arg, { ...common, exportDir: values.export });
  } else if (command === "tenants" && sub === "abort" && arg) {
    await abortCommand(ctx, arg, common);
  } else if (command === "snapshot" && sub === "create") {
    await createSnapshot(ctx, { ...common, name: values.name, from: values.from, ttlHours: values["ttl-hours"] ? Number(values["ttl-hours"]) : undefined });
  } else if (command === "snapshot" && sub === "list") {
    await listSnapshots(ctx, say);
  } else if (command === "snapshot" && sub === "delete" && arg) {
    await deleteSnapshot(ctx, arg, common);
  } else if (command === "rollback" && values.undo) {
    await undoRollback(ctx, common);
  } else if (command === "rollback" && values.to) {
    await rollbackTo(ctx, values.to, { ...common, restore: values.restore });
  } else if (command === "migrate" && sub === "status") {
    await migrateStatus(ctx, say);
  } else if (command === "migrate" && sub === "deploy" && values.all) {
    if (values.workflow && !common.dryRun) await migrateOnControlPlane(ctx, { detach: values.detach!, say });
    else await migrateAll(ctx, say, { dryRun: common.dryRun });
  } else if (command === "migrate" && sub === "deploy") {
    await migrateDeploy(ctx, say, { dryRun: common.dryRun });
  } else if (command === "migrate" && sub === "resolve" && (values["rolled-back"] || values.applied)) {
    await migrateResolve(ctx, (values["rolled-back"] ?? values.applied)!, values["rolled-back"] ? "rolled-back" : "applied", say);
  } else if (command === "backfill") {
    await backfillCommand(ctx, { ...common, batchSize: values["batch-size"] ? Number(values["batch-size"]) : undefined, legacy: values.legacy });
  } else if (command === "tenancy" && sub === "status") {
    await tenancyStatus(ctx, say);
  } else if (command === "tenancy" && sub === "sync") {
    await syncTenancyMode(ctx, say);
  } else if (command === "tenancy" && sub === "relax") {
    await relaxTenancy(ctx, common);
  } else if (command === "tenancy" && sub === "restore") {
    await restoreTenancy(ctx, common);
  } else if (command === "flags" && sub === "list") {
    await listFlags(ctx, say);
  } else if (command === "flags" && sub === "get" && arg) {
    await getFlag(ctx, arg, values.tenant, say);
  } else if (command === "flags" && sub === "set" && arg && ["true", "false"].includes(positionals[3] ?? "")) {
    await setFlag(ctx, arg, positionals[3] === "true", { ...common, tenant: values.tenant });
    if (arg === "tenancy_enabled" && !common.dryRun) await syncTenancyMode(ctx, say); // RLS follows the flag
  } else if (command === "flags" && sub === "history") {
    await flagLog(ctx, arg, say);
  } else if (command === "flags" && (sub === "kill" || sub === "unkill") && arg) {
    await killFlag(ctx, arg, sub === "kill", common);
    if (arg === "tenancy_enabled" && !common.dryRun) await syncTenancyMode(ctx, say);
  } else {
    throw new Error(`unknown command "${positionals.join(" ")}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error((err as Error).message);
  process.exit(1);
});
