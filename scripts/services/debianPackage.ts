import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * A program from Debian's packages, installed when it is missing and we are root (as CI and a fresh machine are);
 * otherwise the error names the command to run. Returns the program's path.
 */
export function ensureDebianProgram(program: { path: () => string; packageName: string }, log: (m: string) => void = () => undefined): string {
  try {
    return program.path();
  } catch (err) {
    if (process.getuid?.() !== 0) throw err;
    log(`${program.packageName} missing: apt-get install -y ${program.packageName}`);
    for (const args of [["update"], ["install", "-y", "--no-install-recommends", program.packageName]]) {
      const res = spawnSync("apt-get", args, { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
      if (res.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed: ${(res.stderr || res.stdout).trim().split("\n").slice(-3).join(" ")}`);
    }
    return program.path();
  }
}

/** Debian's Chromium, for the browser gate (Playwright's own browser download cannot work offline). */
export function ensureChromium(log?: (m: string) => void): string {
  return ensureDebianProgram({
    packageName: "chromium",
    path: () => {
      const p = process.env.BLOOM_CHROMIUM ?? "/usr/bin/chromium";
      if (!existsSync(p)) throw new Error(`no Chromium at ${p}: apt-get install -y chromium (or set BLOOM_CHROMIUM)`);
      return p;
    },
  }, log);
}
