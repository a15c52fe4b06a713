import { withClient } from "../database/sql/withClient";
import { compactStamp, hoursFromNow } from "../time";
import type { DatabaseBackend } from "../database/backend";
import { mapSettledWithLimit } from "../concurrency";
import { applyPendingMigrations, type DeployResult } from "./applyPendingMigrations";
import { assertLintClean } from "./lintMigrations";
import type { Migration } from "./migrationSource";
import { CREATE_MIGRATIONS_TABLE, isApplied, isFailed, readMigrationRecords } from "./prismaMigrationsTable";

/**
 * The deploy hook's work: lint what is pending, then for every target database (the pool, each dedicated tenant)
 * take a snapshot branch and apply pending migrations, with bounded concurrency. One target failing does not stop
 * the others; the error names every failed database, its migration, and the snapshot to roll back to.
 */
export interface MigrationTarget {
  /** Label in messages and results, e.g. `pool` or `tenant:acme-dental`. */
  name: string;
  projectId: string;
  branchId: string;
  /** Direct connection as the migrator (secret). */
  migratorUrl: string;
}

export interface DeployToTargetsOptions {
  backend: DatabaseBackend;
  migrations: Migration[];
  /** Names the snapshots, e.g. `predeploy-20261127-0930-1a2b3c4d`. */
  deployId: string;
  snapshotTtlHours: number;
  concurrency: number;
  /** Skip snapshots (benchmarks, tests of the runner alone). Deploys always snapshot. */
  snapshots?: boolean;
  lint?: boolean;
  log?: (line: string) => void;
}

export interface TargetOutcome {
  target: string;
  snapshot?: string;
  applied: string[];
  warnings: string[];
}

export class MigrationHookError extends Error {
  constructor(readonly failures: { target: string; snapshot?: string; error: Error }[], readonly outcomes: TargetOutcome[]) {
    super(
      `migrations failed on ${failures.length} database(s):\n` +
        failures
          .map((f) => `  - ${f.target}: ${f.error.message}${f.snapshot ? `\n    roll back: npm run bloom -- rollback --to ${f.snapshot}` : ""}`)
          .join("\n"),
    );
    this.name = "MigrationHookError";
  }
}

export async function pendingMigrationNames(url: string, migrations: Migration[]): Promise<{ pending: string[]; failed: string[] }> {
  return withClient(url, async (client) => {
    await client.query(CREATE_MIGRATIONS_TABLE);
    const records = await readMigrationRecords(client);
    const applied = new Set(records.filter(isApplied).map((r) => r.migration_name));
    return { pending: migrations.filter((m) => !applied.has(m.name)).map((m) => m.name), failed: records.filter(isFailed).map((r) => r.migration_name) };
  }, "bloom-migrate");
}

export async function deployMigrationsToTargets(targets: MigrationTarget[], opts: DeployToTargetsOptions): Promise<TargetOutcome[]> {
  const log = opts.log ?? (() => undefined);
  const states = await mapSettledWithLimit(targets, opts.concurrency, (t) => pendingMigrationNames(t.migratorUrl, opts.migrations));
  if (opts.lint !== false) {
    const pending = new Set(states.flatMap((s) => (s.status === "fulfilled" ? s.value.pending : [])));
    assertLintClean(opts.migrations.filter((m) => pending.has(m.name)));
  }
  const expiresAt = hoursFromNow(opts.snapshotTtlHours);

  const results = await mapSettledWithLimit(targets, opts.concurrency, async (t, i) => {
    const state = states[i]!;
    if (state.status === "rejected") throw state.reason;
    if (!state.value.pending.length && !state.value.failed.length) {
      log(`${t.name}: up to date`);
      return { target: t.name, applied: [], warnings: [] } satisfies TargetOutcome;
    }
    let snapshot: string | undefined;
    if (opts.snapshots !== false) {
      snapshot = opts.deployId;
      await opts.backend.ensureBranch({ projectId: t.projectId, name: snapshot, parentBranchId: t.branchId, expiresAt });
      log(`${t.name}: snapshot ${snapshot} (expires ${expiresAt})`);
    }
    try {
      const res: DeployResult = await applyPendingMigrations(t.migratorUrl, opts.migrations, { database: t.name, log });
      return { target: t.name, snapshot, applied: res.applied, warnings: res.warnings } satisfies TargetOutcome;
    } catch (error) {
      throw Object.assign(error as Error, { snapshot });
    }
  });

  const outcomes = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failures = results.flatMap((r, i) => (r.status === "rejected" ? [{ target: targets[i]!.name, snapshot: (r.reason as { snapshot?: string }).snapshot, error: r.reason as Error }] : []));
  if (failures.length) throw new MigrationHookError(failures, outcomes);
  return outcomes;
}

/** `predeploy-<UTC yyyymmdd-hhmm>-<first 8 of the migrations hash>`: sortable, and tells which deploy made it. */
export function deployIdFor(migrationsHash: string, at = new Date()): string {
  return `predeploy-${compactStamp(at)}-${migrationsHash.slice(0, 8)}`;
}
