import { Client } from "pg";
import { quietClient, withClient } from "../../database/sql/withClient";
import { isoSeconds } from "../../time";
import { tenantDataTables } from "../tenantPolicies";
import { readCatalogRow, saveJournal, settleCatalogRow, type CatalogRow, type DedicatedLocation, type MoveDirection, type MoveJournal } from "./moveJournal";
import { MoveLease, MoveLeaseLost, type MoveLeaseSettings } from "./moveLease";
import { isFinal, runSteps, undoSteps, MoveRefused, type MoveStep, type RunnerState } from "./moveRunner";
import type { TableCopyResult } from "./tableCopy";

/**
 * One move of one tenant: what its steps share (the options, the journal, the two databases and their connections)
 * and the executor that runs a plan's steps under the tenant's move lease, and undoes them.
 */
export interface MoveHooks {
  /** Makes the stack config declare this isolation (edits the stack file, like rollback); idempotent. */
  declare(isolation: "pooled" | "dedicated"): Promise<void>;
  /** Extract: makes the dedicated database exist (the platform's and the tenant stack's `up`); its migrator URL. Idempotent. */
  provisionDedicated(): Promise<string>;
  /** The dedicated database's migrator URL if it exists; changes nothing. */
  dedicatedUrl(): Promise<string | undefined>;
}

export interface TenantMoveOptions {
  tenantId: string;
  direction: MoveDirection;
  /** Migrator URL of the pool, which holds the catalog. */
  poolUrl: string;
  /** The tenant's dedicated home (its tenant stack and project). */
  dedicated: DedicatedLocation;
  hooks: MoveHooks;
  /** How long the old copy is kept before `purge` may delete it. */
  graceMs: number;
  /** Tables copied (and verified) at once. */
  concurrency?: number;
  log?: (line: string) => void;
  /**
   * Online moves: a connection string, on the given database, of a role that may create publications, replication
   * slots and subscriptions (local: the server's superuser; Neon: the project owner, a neon_superuser).
   */
  adminUrl?(databaseUrl: string): Promise<string>;
  /** Runs the steps only up to and including this one (a workflow runs a move as a few activities). */
  through?: string;
  /**
   * A workflow's mover: its lease is also bound to a time it renews, so a retry on another worker takes it over
   * from a frozen one (moveLease.ts). Without it, the lease is bound to this process's session only.
   */
  lease?: MoveLeaseSettings;
}

export interface MovePlan {
  online: boolean;
  steps: MoveStep<MoveRun>[];
  /** Which failures undo the move; the others keep it for a rerun (copy mode: retryable ones, which resume). */
  undoOn: "final" | "any";
  /** Before anything changes, on a fresh start only. */
  check?(run: MoveRun): Promise<void>;
  /** The journal a fresh move begins with. */
  begin?(journal: MoveJournal, tenantId: string): MoveJournal;
}

type Side = "source" | "target";
type Role = Side | "sourceAdmin" | "targetAdmin";

export class MoveRun implements RunnerState {
  journal: MoveJournal;
  readonly durations: Record<string, number> = {};
  readonly tenantId: string;
  readonly direction: MoveDirection;
  readonly log: (line: string) => void;
  /** The copy step's results in this process. */
  copied: TableCopyResult[] = [];
  /** Set by the cutover: when the old copy may be purged, and when the tenant's writes were accepted again. */
  purgeAfter = "";
  cutoverAt = 0;
  /** Rows an undo deleted from the target. */
  deletedFromTarget = 0;
  /** Online: when this process began streaming (the tenant wrote freely from here to the fence). */
  streamStartedAt = 0;
  private dedicated: Promise<string | undefined> | undefined;
  private readonly clients = new Map<Role, Promise<Client>>();
  private tableList: Promise<string[]> | undefined;

  constructor(readonly pool: Client, readonly opts: TenantMoveOptions, readonly row: CatalogRow, journal: MoveJournal, readonly lease?: MoveLease) {
    this.journal = journal;
    this.tenantId = opts.tenantId;
    this.direction = journal.direction;
    this.log = opts.log ?? (() => undefined);
  }

  /** The dedicated database, once provisioned (the provision step sets it; a resumed or aborting run looks it up). */
  useDedicated(url: string): void {
    this.dedicated = Promise.resolve(url);
  }

  /** The side's migrator URL; undefined when that side is a dedicated database that does not exist. */
  async url(side: Side): Promise<string | undefined> {
    const dedicatedSide: Side = this.direction === "extract" ? "target" : "source";
    if (side !== dedicatedSide) return this.opts.poolUrl;
    this.dedicated ??= this.opts.hooks.dedicatedUrl();
    return this.dedicated;
  }

  async requiredUrl(side: Side): Promise<string> {
    const url = await this.url(side);
    if (!url) {
      throw new Error(`tenant "${this.tenantId}" has no dedicated database (its tenant stack ${this.opts.dedicated.stack} is missing or was never \`up\`)${this.direction === "extract" ? ": run the extract again to provision it, or abort it" : ": there is nothing to return from"}`);
    }
    return url;
  }

  async adminUrl(side: Side): Promise<string> {
    if (!this.opts.adminUrl) throw new Error(`the ${this.direction} of "${this.tenantId}" is online: it needs the replication admin connection (adminUrl)`);
    return this.opts.adminUrl(await this.requiredUrl(side));
  }

  /** A connection kept for the run (closed by `close`); undefined when the side's database does not exist. */
  async optionalClient(role: Role): Promise<Client | undefined> {
    const side: Side = role.startsWith("source") ? "source" : "target";
    if (!(await this.url(side))) return undefined;
    return this.client(role);
  }

  client(role: Role): Promise<Client> {
    let c = this.clients.get(role);
    if (!c) {
      c = (async () => {
        const side: Side = role.startsWith("source") ? "source" : "target";
        const url = role.endsWith("Admin") ? await this.adminUrl(side) : await this.requiredUrl(side);
        const client = quietClient({ connectionString: url, application_name: this.lease?.sessionTag ?? (role.endsWith("Admin") ? "bloom-move-admin" : `bloom-move-${side}`) });
        await client.connect();
        try {
          // Open, then checked: a connection a zombie opens after a takeover writes nothing; one opened before is
          // ended by the new holder, on each database as the new holder connects there.
          await this.lease?.endEarlierHolders(client, this.log);
          await this.lease?.check();
        } catch (err) {
          await client.end().catch(() => undefined);
          throw err;
        }
        return client;
      })();
      this.clients.set(role, c);
      c.catch(() => this.clients.delete(role));
    }
    return c;
  }

  /** The tenant's tables, read at the source. */
  tables(): Promise<string[]> {
    this.tableList ??= this.client("source").then(tenantDataTables);
    return this.tableList;
  }

  /** Data a step needs durable before it completes (what its undo must know). */
  async note(patch: Partial<MoveJournal>): Promise<void> {
    this.journal = { ...this.journal, ...patch };
    await saveJournal(this.pool, this.tenantId, this.journal, this.lease);
  }

  /**
   * A resumed move's first act: every database it will touch is rid of the sessions of earlier movers of the tenant
   * (a frozen mover's copy in flight, say), through the connections the run keeps, before any step runs.
   */
  async endEarlierMovers(online: boolean): Promise<void> {
    const roles: Role[] = online ? ["source", "target", "sourceAdmin", "targetAdmin"] : ["source", "target"];
    for (const role of roles) await this.optionalClient(role);
  }

  async close(): Promise<void> {
    const open = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(open.map((c) => c.then((client) => client.end(), () => undefined).catch(() => undefined)));
  }
}

export const describeLocation = (l: CatalogRow["location"]) => (l.kind === "pool" ? "the pool" : `stack ${l.stack}, project ${l.project}`);

/** Runs the plan's remaining steps under the tenant's move lease; a failure the plan does not keep is undone. */
export async function executeMove(plan: MovePlan, opts: TenantMoveOptions, refuse: (row: CatalogRow | undefined) => string | undefined): Promise<MoveRun & { resumed: boolean }> {
  return withClient(opts.poolUrl, async (pool) => {
    const lease = await MoveLease.hold(pool, opts.tenantId, { timeBound: opts.lease });
    try {
      // Before the journal is read: an earlier holder's write in flight is rolled back, or committed, by then.
      await lease.endEarlierHolders(pool, opts.log ?? (() => undefined));
      return await runUnderLease(plan, opts, refuse, pool, lease);
    } finally {
      await lease.release();
    }
  }, "bloom-move");
}

async function runUnderLease(plan: MovePlan, opts: TenantMoveOptions, refuse: (row: CatalogRow | undefined) => string | undefined, pool: Client, lease: MoveLease): Promise<MoveRun & { resumed: boolean }> {
  const row = await readCatalogRow(pool, opts.tenantId);
  const refused = refuse(row);
  if (refused) throw new MoveRefused(refused);
  const resumed = Boolean(row!.move);
  const journal = row!.move ?? (plan.begin ?? ((j) => j))(newJournal(row!, opts), opts.tenantId);
  const run = Object.assign(new MoveRun(pool, opts, row!, journal, lease), { resumed });
  const mode = plan.online ? "online " : "";
  try {
    if (resumed) await run.endEarlierMovers(plan.online);
    else {
      await plan.check?.(run);
      await saveJournal(pool, opts.tenantId, run.journal, lease);
    }
    run.log(`${resumed ? "resuming" : "starting"} ${mode}${run.direction} of ${opts.tenantId} (${describeLocation(journal.from)} → ${describeLocation(journal.to)}), last step: ${journal.step}`);
    try {
      await runSteps(plan.steps, run, opts.through);
    } catch (err) {
      if (err instanceof MoveLeaseLost || !(await lease.check().then(() => true, () => false))) {
        // Another mover has the tenant now: undoing here would undo its work. Whatever failed, this one stops.
        const lost = lease.lostError();
        run.log(`the ${mode}${run.direction} of ${opts.tenantId} stopped: ${lost.message} (what failed here: ${(err as Error).message})`);
        throw lost;
      }
      const at = run.journal.running ?? nextStep(plan, run.journal);
      if (!isFinal(err) && plan.undoOn === "final") {
        run.log(`the ${mode}${run.direction} of ${opts.tenantId} stopped at step ${at} (${(err as Error).message}): rerun it to resume, or \`bloom tenants abort ${opts.tenantId}\``);
        throw err;
      }
      run.log(`the ${mode}${run.direction} of ${opts.tenantId} failed at step ${at} (${(err as Error).message}); undoing its steps`);
      await undoMove(plan, run).catch((undo: unknown) => run.log(`undoing failed too (${(undo as Error).message}): run \`bloom tenants abort ${opts.tenantId}\``));
      throw err;
    }
    return run;
  } finally {
    await run.close();
  }
}

/** The journal a move starts with: from where the tenant is, to the other side. */
export function newJournal(row: CatalogRow, opts: Pick<TenantMoveOptions, "direction" | "dedicated">, startedAt = isoSeconds()): MoveJournal {
  return { direction: opts.direction, from: row.location, to: opts.direction === "extract" ? opts.dedicated : { kind: "pool" }, startedAt, step: "begun", copied: {} };
}

/** Undoes the running and completed steps, last first, then ends the move in the catalog where it began. */
export async function undoMove(plan: MovePlan, run: MoveRun): Promise<void> {
  await undoSteps(plan.steps, run);
  await settleCatalogRow(run.pool, run.tenantId, run.journal.from, run.row.pendingPurge, run.lease);
}

const nextStep = (plan: MovePlan, journal: MoveJournal) =>
  plan.steps[journal.step === "begun" ? 0 : plan.steps.findIndex((s) => s.name === journal.step) + 1]?.name ?? journal.step;
