import { spawn } from "node:child_process";
import path from "node:path";
import { REPO_ROOT } from "../infra/config/stackFile";

export interface BloomStack {
  stackName: string;
  configFile: string;
  root: string;
}

/**
 * The runbook CLI as on-call runs it, in its own process group, on a throw-away stack; stdout and stderr collected.
 * `kill`: SIGKILL to the whole group (the engine and its plugins die with it, as with a lost session) `ms` after
 * the output first matches `after`. `onOutput` sees the output so far as it grows. Resolves with whether it was
 * killed and what it printed; rejects on failure.
 */
export function runBloom(stack: BloomStack, args: string[], kill?: { after: RegExp; ms: number }, onOutput?: (soFar: string) => void): Promise<{ killed: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "scripts", "bloom.ts"), ...args, "--stack", stack.stackName, "--config", stack.configFile, "--root", stack.root],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    let timer: NodeJS.Timeout | undefined;
    const collect = (d: Buffer) => {
      out += d;
      if (kill && !timer && kill.after.test(out)) timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), kill.ms);
      onOutput?.(out);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") resolve({ killed: true, output: out });
      else if (code === 0) resolve({ killed: false, output: out });
      else reject(Object.assign(new Error(`bloom ${args.join(" ")} failed (${code}): ${out}`), { output: out }));
    });
  });
}
