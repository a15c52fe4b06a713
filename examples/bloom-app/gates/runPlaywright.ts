import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { EXAMPLE_APP_DIR } from "../../../scripts/exampleApp";

export interface PlaywrightRun {
  status: number;
  passed: number;
  failed: number;
  /** Titles of the tests that failed, sorted. */
  failing: string[];
  output: string;
}

/** One Playwright project of gates/playwright.config.ts, in its own process: its exit code and its own counts (its JSON report). */
export function runPlaywright(project: "api" | "browser" | "prisma" | "move", opts: { report: string; outputDir: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<PlaywrightRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [require.resolve("@playwright/test/cli", { paths: [EXAMPLE_APP_DIR] }), "test", "-c", path.join(__dirname, "playwright.config.ts"), "--project", project], {
      cwd: EXAMPLE_APP_DIR,
      env: { ...process.env, ...opts.env, BLOOM_GATE_REPORT: opts.report, BLOOM_GATE_OUTPUT: opts.outputDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 180_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      try {
        interface Suite { specs?: { title: string; ok: boolean }[]; suites?: Suite[] }
        const parsed = JSON.parse(readFileSync(opts.report, "utf8")) as Suite & { stats: { expected: number; unexpected: number } };
        const failing: string[] = [];
        const walk = (suite: Suite) => {
          for (const spec of suite.specs ?? []) if (!spec.ok) failing.push(spec.title);
          (suite.suites ?? []).forEach(walk);
        };
        walk(parsed);
        resolve({ status: code ?? -1, passed: parsed.stats.expected, failed: parsed.stats.unexpected, failing: failing.sort(), output });
      } catch (err) {
        reject(new Error(`playwright ${project} left no report (${String(err)}):\n${output}`));
      }
    });
  });
}
