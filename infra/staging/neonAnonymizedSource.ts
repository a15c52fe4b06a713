import type { BranchRef, DatabaseBackend } from "../database/backend";
import type { NeonBackend } from "../database/neon/neonBackend";
import { hoursFromNow } from "../time";
import { ANONYMIZED_STATES } from "../vendorRules/neon";
import { neonMaskingRules } from "./neonMaskingRules";

/**
 * Prod's side of a Neon staging refresh, all inside prod's project: a plain branch pins the point the copy is
 * made from (and verified against), and an anonymized child of it gets the masking rules generated from the
 * column annotations, started at once, waited on through anonymized_status. Only the anonymized branch is read
 * for the copy. The anonymized branch expires within a day, so one a crash leaves behind does not outlive it.
 */
export interface AnonymizedSource {
  point: BranchRef;
  anonymized: BranchRef;
}

export async function prepareAnonymizedSource(
  neon: NeonBackend,
  at: { projectId: string; parentBranchId: string; database: string; stamp: string; log: (line: string) => void; pollMs?: number },
): Promise<AnonymizedSource> {
  const point = await neon.ensureBranch({ projectId: at.projectId, name: `staging-point-${at.stamp}`, parentBranchId: at.parentBranchId });
  const rules = neonMaskingRules(at.database);
  at.log(`prod: pinned ${point.name}; anonymizing a child of it (${rules.length} masking rules)`);
  const anonymized = await neon.ensureAnonymizedBranch({ projectId: at.projectId, name: `staging-anon-${at.stamp}`, parentBranchId: point.branchId, expiresAt: hoursFromNow(24), maskingRules: rules });
  for (let last = ""; ; ) {
    const status = await neon.anonymizationStatus(at.projectId, anonymized.branchId);
    if (status.state !== last) at.log(`  anonymization: ${status.state}${status.message ? ` (${status.message})` : ""}`);
    last = status.state;
    if (status.state === ANONYMIZED_STATES.done) return { point, anonymized };
    if ((ANONYMIZED_STATES.failed as readonly string[]).includes(status.state)) {
      await removeAnonymizedSource(neon, at.projectId, [anonymized, point], at.log);
      throw new Error(`Neon's anonymization of ${anonymized.name} ended "${status.state}": ${status.message ?? "no message"}; its branches were deleted and nothing reached staging`);
    }
    await new Promise((r) => setTimeout(r, at.pollMs ?? 1000));
  }
}

/** Deletes prod's temporary branches, children first; a failure is said, not thrown (the copy itself is done or undone). */
export async function removeAnonymizedSource(backend: DatabaseBackend, projectId: string, branches: BranchRef[], log: (line: string) => void): Promise<void> {
  for (const b of branches) {
    await backend.deleteBranch(projectId, b.branchId).catch((e) => log(`could not delete ${b.name} in prod's project: ${(e as Error).message}; delete it by hand`));
  }
}
