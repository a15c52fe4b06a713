/**
 * A tenant move (copy mode, or online with `onlineServerUrl`: the local server whose superuser runs the replication) in its own process, for the kill -9 trials: `tsx test/moveWorker.ts` with the move's settings as
 * JSON on stdin (connection strings stay off the command line); `lease`: a workflow's time-bound move lease. Prints
 * `done` when the move finished.
 */
import { runTenantMove } from "../infra/tenancy/move/tenantMove";
import { runOnlineTenantMove } from "../infra/tenancy/move/onlineMove";
import { serverAdminUrl } from "../infra/database/local/localPostgresBackend";
import type { MoveLeaseSettings } from "../infra/tenancy/move/moveLease";

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const { tenantId, direction, poolUrl, dedicatedUrl, onlineServerUrl, lease, copyRateMBps } = JSON.parse(input) as
    { tenantId: string; direction: "extract" | "return"; poolUrl: string; dedicatedUrl: string; onlineServerUrl?: string; lease?: MoveLeaseSettings; copyRateMBps?: number };
  console.log("start"); // the trials time their kill from here (module loading excluded)
  const move = {
    tenantId, direction, poolUrl,
    dedicated: { kind: "dedicated" as const, stack: `test-${tenantId}`, project: `test-${tenantId}` },
    hooks: { declare: async () => undefined, provisionDedicated: async () => dedicatedUrl, dedicatedUrl: async () => dedicatedUrl },
    graceMs: 0,
    ...(lease ? { lease } : {}),
  };
  if (onlineServerUrl) await runOnlineTenantMove({ ...move, adminUrl: async (db) => serverAdminUrl(onlineServerUrl, db), ...(copyRateMBps ? { copyRateMBps } : {}) });
  else await runTenantMove(move);
  console.log("done");
});
