import { spawn } from "node:child_process";
import path from "node:path";
import { REPO_ROOT } from "../infra/config/stackFile";

export interface MoveWorkerSettings {
  tenantId: string;
  direction: "extract" | "return";
  poolUrl: string;
  dedicatedUrl: string;
  /** Online move: the local server whose superuser runs the replication. */
  onlineServerUrl?: string;
}

/**
 * Runs test/moveWorker.ts with its settings on stdin (no connection string on a command line), and kills it with
 * SIGKILL `killAfterMs` after it printed "start" (module loading excluded). Resolves with whether it was killed and
 * how long it ran.
 */
export function runMoveWorker(settings: MoveWorkerSettings, killAfterMs?: number): Promise<{ killed: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "test", "moveWorker.ts")], { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let err = "";
    let started = Date.now();
    child.stderr.on("data", (d) => (err += d));
    child.stdin.end(JSON.stringify(settings));
    let timer: NodeJS.Timeout | undefined;
    child.stdout.once("data", () => {
      started = Date.now();
      if (killAfterMs !== undefined) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") resolve({ killed: true, ms: Date.now() - started });
      else if (code === 0) resolve({ killed: false, ms: Date.now() - started });
      else reject(new Error(`move worker failed (${code}): ${err}`));
    });
  });
}
