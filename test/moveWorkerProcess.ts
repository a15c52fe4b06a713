import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { REPO_ROOT } from "../infra/config/stackFile";
import type { MoveLeaseSettings } from "../infra/tenancy/move/moveLease";

export interface MoveWorkerSettings {
  tenantId: string;
  direction: "extract" | "return";
  poolUrl: string;
  dedicatedUrl: string;
  /** Online move: the local server whose superuser runs the replication. */
  onlineServerUrl?: string;
  /** A workflow activity's move lease (bound to a time as well as the session), instead of the CLI's. */
  lease?: MoveLeaseSettings;
  /** Online move: the initial copy's cap (MB/s), to make it last. */
  copyRateMBps?: number;
}

export interface MoveWorkerProcess {
  child: ChildProcess;
  /** Resolves when the worker printed "start" (module loading done). */
  started: Promise<void>;
  /** Resolves when it exits: killed by SIGKILL, or finished (exit 0); rejects with its stderr otherwise. */
  exited: Promise<{ killed: boolean; ms: number }>;
}

/** Starts test/moveWorker.ts with its settings on stdin (no connection string on a command line). */
export function startMoveWorker(settings: MoveWorkerSettings): MoveWorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "test", "moveWorker.ts")], { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  let startedAt = Date.now();
  child.stderr!.on("data", (d) => (err += d));
  child.stdin!.end(JSON.stringify(settings));
  const started = new Promise<void>((resolve) => child.stdout!.once("data", () => { startedAt = Date.now(); resolve(); }));
  const exited = new Promise<{ killed: boolean; ms: number }>((resolve, reject) => {
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve({ killed: true, ms: Date.now() - startedAt });
      else if (code === 0) resolve({ killed: false, ms: Date.now() - startedAt });
      else reject(new Error(`move worker failed (${code ?? signal}): ${err}`));
    });
  });
  return { child, started, exited };
}

/**
 * Runs the worker and kills it with SIGKILL `killAfterMs` after it printed "start" (module loading excluded).
 * Resolves with whether it was killed and how long it ran.
 */
export async function runMoveWorker(settings: MoveWorkerSettings, killAfterMs?: number): Promise<{ killed: boolean; ms: number }> {
  const worker = startMoveWorker(settings);
  let timer: NodeJS.Timeout | undefined;
  void worker.started.then(() => {
    if (killAfterMs !== undefined) timer = setTimeout(() => worker.child.kill("SIGKILL"), killAfterMs);
  });
  try {
    return await worker.exited;
  } finally {
    clearTimeout(timer);
  }
}
