import type { Client } from "pg";
import { quietClient } from "../database/sql/withClient";
import type { BranchRef, DatabaseBackend } from "../database/backend";
import type { NeonBackend } from "../database/neon/neonBackend";
import { maskedColumns } from "../compliance/columnAnnotations";
import { hoursFromNow } from "../time";
import { tenantDataTables } from "../tenancy/tenantPolicies";
import { checkAnnotated, checkSameColumns, copyTenantsMasked, joinSnapshot, type Annotations } from "./maskedCopy";
import { checkRunKey } from "./masking";
import { neonMaskingRules } from "./neonMaskingRules";
import { prepareAnonymizedSource, removeAnonymizedSource } from "./neonAnonymizedSource";
import { selectTenants, type TenantSelection } from "./tenantSample";
import { compareHashes, newVerificationKey, readSourceSide, readTargetHashes, tableCounts, verifyAgainstSource, type HashComparison, type SourceSide, type VerificationReport } from "./verifyCopy";

/**
 * `bloom staging refresh`: the chosen prod tenants, masked, into a new branch of staging's pool, verified before
 * anything points at it. Two ways in, one way out:
 *  - local: prod's rows are read in one snapshot and masked by prod's own SELECT (masking.ts, maskedCopy.ts);
 *  - Neon: prod's project pins a point (a plain branch of prod's app branch) and makes an anonymized child of it
 *    with the masking rules from the same annotations (neonMaskingRules.ts); Neon masks it; the rows are then
 *    copied out of the anonymized branch only. Both branches stay in prod's project and are deleted at the end.
 * Either way the new staging branch is loaded from one snapshot, then verified against the same point of prod
 * (verifyCopy.ts) while its keys are rebuilt; until it has verified it carries an expiry and nothing points at it.
 * A failed verification deletes the branch, and staging stays on its old copy. The caller then points staging's
 * app at the new branch (bloom:appBranch, the repoint path); the old branch is kept as the way back.
 */
export interface DatabaseAt {
  backend: DatabaseBackend;
  projectId: string;
  /** The branch to start from: prod's app branch (the source), or staging's main (where a copy branches off). */
  branchId: string;
  database: string;
  /** A role that may read every tenant row (the migrator: it has BYPASSRLS) and its password. */
  role: string;
  password: string;
}

export interface StagingRefreshSpec {
  source: DatabaseAt & { tenants: string[] };
  /**
   * Staging's pool at its root branch (main): a copy branches from there, never from the copy in use, so the old
   * copy has no child and can expire. `prepareBranch` brings the new branch to staging's migrations (main is not
   * migrated while the app uses a copy) before anything is loaded.
   */
  target: DatabaseAt & { prepareBranch?: (url: string) => Promise<void> };
  selection: TenantSelection;
  runKey: Buffer;
  /** Names the new staging branch and, on Neon, prod's two temporary branches. */
  stamp: string;
  dryRun?: boolean;
  log: (line: string) => void;
  /** Tests only: a masking plan other than the annotations', to show that verification catches a column left unmasked. */
  masksOverride?: Annotations;
}

export interface StagingRefreshResult {
  tenants: string[];
  branch?: BranchRef;
  rows: number;
  report?: VerificationReport;
}

/** How long an unverified copy branch may outlive the run that made it. */
export const UNVERIFIED_COPY_TTL_HOURS = 24;

export class StagingVerificationError extends Error {
  constructor(readonly report: VerificationReport) {
    super(`the staging copy failed verification and was deleted; staging still uses its previous copy:\n  ${report.problems.join("\n  ")}`);
    this.name = "StagingVerificationError";
  }
}

const urlOf = (at: DatabaseAt, branchId: string) => at.backend.connectionUri({ projectId: at.projectId, branchId, database: at.database, role: at.role, password: at.password, pooled: false });

async function connect(url: string, name: string): Promise<Client> {
  const c = quietClient({ connectionString: url, application_name: name }); // a branch dropped under it: the next query fails
  await c.connect();
  return c;
}

async function describePlan(source: Client, spec: StagingRefreshSpec, tenants: string[]): Promise<void> {
  const neon = spec.source.backend.kind === "neon";
  spec.log(neon ? "masking rules (Neon anonymized branch):" : "masking (in the COPY stream):");
  if (neon) for (const r of neonMaskingRules(spec.source.database)) spec.log(`  ${r.table_name}.${r.column_name}: ${r.masking_function ?? `value ${JSON.stringify(r.masking_value)}`}`);
  else for (const c of maskedColumns()) spec.log(`  ${c.table}.${c.column}: ${c.mask} (${c.category})`);
  for (const [table, counts] of await tableCounts(source, await tenantDataTables(source), tenants)) {
    spec.log(`  rows in ${table}: ${tenants.map((t) => `${t} ${counts.get(t) ?? 0}`).join(", ")}`);
  }
}

export async function refreshStagingCopy(spec: StagingRefreshSpec): Promise<StagingRefreshResult> {
  checkRunKey(spec.runKey); // before anything is read
  const tenants = selectTenants(spec.source.tenants, spec.selection, spec.runKey);
  spec.log(`tenants: ${tenants.join(", ")} (${tenants.length} of ${spec.source.tenants.length}, whole)`);
  const onNeon = spec.source.backend.kind === "neon";
  const prodBranches: BranchRef[] = [];
  // The source point: the live app branch locally (read in one snapshot), a pinned branch of it on Neon.
  let verifyFrom = await connect(await urlOf(spec.source, spec.source.branchId), "bloom-staging-refresh");
  let copyFrom = verifyFrom;
  let copyBranchId = spec.source.branchId;
  let laneSource: Client | undefined;
  let target: Client | undefined;
  // The second lane's target connection, then the reader of the target's keyed hashes.
  let second: Client | undefined;
  let third: Client | undefined;
  let branch: BranchRef | undefined;
  const closeTargets = async () => {
    for (const c of [third, second, target]) await c?.end().catch(() => undefined);
    third = second = target = undefined;
  };
  try {
    await verifyFrom.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const sourceColumns = await checkAnnotated(verifyFrom);
    if (spec.dryRun) {
      await describePlan(verifyFrom, spec, tenants);
      spec.log("dry run: nothing was created or copied");
      return { tenants, rows: 0 };
    }
    if (onNeon) {
      const { point, anonymized } = await prepareAnonymizedSource(spec.source.backend as NeonBackend, { projectId: spec.source.projectId, parentBranchId: spec.source.branchId, database: spec.source.database, stamp: spec.stamp, log: spec.log });
      prodBranches.push(anonymized, point);
      await verifyFrom.end();
      verifyFrom = await connect(await urlOf(spec.source, point.branchId), "bloom-staging-verify");
      await verifyFrom.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      copyBranchId = anonymized.branchId;
      copyFrom = await connect(await urlOf(spec.source, copyBranchId), "bloom-staging-refresh");
      await copyFrom.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    }
    const name = `copy-${spec.stamp}`;
    // A copy never lands on a branch that exists: that one may be what staging's app uses.
    if ((await spec.target.backend.listBranches(spec.target.projectId)).some((b) => b.name === name)) throw new Error(`staging already has a branch ${name}: rerun in a second (the name carries the time)`);
    // Until it verifies the branch expires by itself: one a crash leaves behind (unverified, unused) goes within a day.
    branch = await spec.target.backend.ensureBranch({ projectId: spec.target.projectId, name, parentBranchId: spec.target.branchId, expiresAt: hoursFromNow(UNVERIFIED_COPY_TTL_HOURS) });
    spec.log(`staging: new branch ${branch.name} of ${spec.target.branchId}`);
    const targetUrl = await urlOf(spec.target, branch.branchId);
    await spec.target.prepareBranch?.(targetUrl);
    target = await connect(targetUrl, "bloom-staging-refresh");
    await checkSameColumns(sourceColumns, target);
    // Two lanes: the masking runs in the source's backends, one per lane (2 cores here; more compete for them). The
    // second lane's target connection then reads the keyed hashes; a third helps rebuild the keys.
    second = await connect(targetUrl, "bloom-staging-refresh");
    third = await connect(targetUrl, "bloom-staging-refresh");
    laneSource = await connect(await urlOf(spec.source, copyBranchId), "bloom-staging-refresh");
    await joinSnapshot(copyFrom, laneSource);
    // Neon has masked the rows already: they cross as they are. Locally the source's SELECT masks them.
    // Once the rows are in and committed (the branch still expires and nothing points at it), both halves of the
    // verification start while staging rebuilds its keys: the source's on the idle source connection, the target's
    // keyed hashes on the second lane's connection to the new branch.
    const key = newVerificationKey();
    let compared: Promise<{ side: SourceSide; comparison: HashComparison }> | undefined;
    let verifyStarted = 0;
    const startVerification = async () => {
      verifyStarted = Date.now();
      const halves = Promise.all([readSourceSide(verifyFrom, { tenants, key }), readTargetHashes(second!, { tenants, key })]);
      // The hashes are compared as soon as both halves are in, while the keys are still being rebuilt.
      compared = halves.then(async ([side, after]) => ({ side, comparison: await compareHashes(side, after) }));
      compared.catch(() => undefined); // awaited below; a failure is reported there
    };
    const copy = await copyTenantsMasked([{ source: copyFrom, target }, { source: laneSource, target: second }], { tenants, runKey: spec.runKey, masks: onNeon ? {} : spec.masksOverride, log: (l) => spec.log(`  ${l}`), onLoaded: startVerification, rebuildAlongside: [third] });
    const { side, comparison } = await compared!;
    const report = await verifyAgainstSource(target, side, comparison);
    spec.log(`verified against prod by keyed hashes (${copy.rows} rows): ${((Date.now() - verifyStarted) / 1000).toFixed(1)} s, with the rebuild`);
    if (!report.ok) throw new StagingVerificationError(report);
    branch = await spec.target.backend.setBranchExpiry(spec.target.projectId, branch.branchId, null);
    spec.log(`verified: ${report.checkedValues} masked values, none equal to its original; none of ${report.originalContactValues} original emails and phones appears; counts and constraints match`);
    return { tenants, branch, rows: copy.rows, report };
  } catch (err) {
    // Anything short of a verified copy: the half-made branch goes (its connections first), staging's app never saw it.
    await closeTargets();
    if (branch) await spec.target.backend.deleteBranch(spec.target.projectId, branch.branchId);
    throw err;
  } finally {
    await closeTargets();
    await laneSource?.end().catch(() => undefined);
    if (copyFrom !== verifyFrom) await copyFrom.end().catch(() => undefined);
    await verifyFrom.end().catch(() => undefined);
    if (prodBranches.length) await removeAnonymizedSource(spec.source.backend, spec.source.projectId, prodBranches, spec.log);
  }
}
