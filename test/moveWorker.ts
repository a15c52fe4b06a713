/**
 * A tenant move in its own process, for the kill -9 trials: `tsx test/moveWorker.ts` with the move's settings as
 * JSON on stdin (connection strings stay off the command line). Prints `done` when the move finished.
 */
import { runTenantMove } from "../infra/tenancy/move/tenantMove";

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const { tenantId, direction, poolUrl, dedicatedUrl } = JSON.parse(input) as { tenantId: string; direction: "extract" | "return"; poolUrl: string; dedicatedUrl: string };
  console.log("start"); // the trials time their kill from here (module loading excluded)
  await runTenantMove({
    tenantId, direction, poolUrl,
    dedicated: { kind: "dedicated", stack: `test-${tenantId}`, project: `test-${tenantId}` },
    hooks: { declare: async () => undefined, dedicatedUrl: async () => dedicatedUrl },
    graceMs: 0,
  });
  console.log("done");
});
