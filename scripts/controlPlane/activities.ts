import { heartbeat } from "@temporalio/activity";
import type { ControlPlaneActivities, PurgeDueCopyInput, PurgeOutcome } from "../../infra/controlPlane/contract";
import { purgeMovedCopy } from "../../infra/tenancy/move/purgeCopy";
import { openStackContext } from "../runbook/stackContext";
import { tenantHandle, tenantStackUrl } from "../runbook/tenantStackAccess";

/**
 * The control plane's activities: the runbook's own operations, run by a worker (`bloom worker`) on the stack the
 * workflow names. Each heartbeats as it goes, so a worker that dies is noticed within the heartbeat timeout and the
 * activity retried elsewhere; each is safe to retry (the operation rechecks the catalog under the tenant's lease).
 */
export function controlPlaneActivities(log: (line: string) => void = () => undefined): ControlPlaneActivities {
  return {
    async purgeDueCopy(input: PurgeDueCopyInput): Promise<PurgeOutcome> {
      const ctx = await openStackContext(input.stack);
      const handle = tenantHandle(ctx, input.tenantId, { declared: false });
      const poolUrl = await ctx.output<string>("migratorDatabaseUrl");
      const say = (line: string) => {
        heartbeat(line);
        log(`[${input.stack.stackName}] ${line}`);
      };
      say(`purging ${input.tenantId}'s old copy (move of ${input.movedAt}, due ${input.after})`);
      const res = await purgeMovedCopy(poolUrl, input.tenantId, { dedicatedUrl: () => tenantStackUrl(handle), movedAt: input.movedAt, log: say });
      if (!res) {
        const reason = `no old copy of ${input.tenantId}'s move of ${input.movedAt} is pending: purged already, or a later move's`;
        say(reason);
        return { purged: false, reason };
      }
      const rows = Object.values(res.deleted).reduce((a, b) => a + b, 0);
      say(`purged ${rows} rows of ${input.tenantId} at ${res.at}`);
      return { purged: true, rows, at: res.at };
    },
  };
}
