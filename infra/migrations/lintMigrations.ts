import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Migration } from "./migrationSource";

/**
 * The lint gate: squawk on the migrations about to be applied. A violation fails the deploy unless that migration
 * allows the rule in its `squawk.allow` (one rule per line, with a `# reason`).
 */
export interface LintViolation {
  migration: string;
  rule: string;
  /** 1-based line in migration.sql. */
  line: number;
  message: string;
}

/** The runner sets lock_timeout and statement_timeout on its session, so squawk's reminders to do so are moot. */
export const RUNNER_HANDLED_RULES = ["require-lock-timeout", "require-statement-timeout", "require-timeout-settings"];

export class LintError extends Error {
  constructor(readonly violations: LintViolation[]) {
    super(
      `squawk found ${violations.length} problem(s) in pending migrations:\n` +
        violations.map((v) => `  ${v.migration}/migration.sql:${v.line}: ${v.rule} — ${v.message}`).join("\n") +
        "\nFix the SQL, or allow a rule for one migration in its squawk.allow with the reason.",
    );
    this.name = "LintError";
  }
}

/**
 * squawk's native binary, from its per-platform npm package. We depend on that package directly: the `squawk-cli`
 * wrapper lists every platform's package, and the registry here does not serve them all, which breaks `npm ci`.
 */
function squawkBin(): string {
  const pkg = `@squawk-cli/${process.platform}-${process.arch}`;
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "bin", "squawk");
  } catch {
    throw new Error(`squawk is not installed for ${process.platform}-${process.arch}: add ${pkg} (same version as in package.json) to optionalDependencies and run npm install`);
  }
}

export function lintMigrations(migrations: Migration[], pgVersion?: string): LintViolation[] {
  const work = mkdtempSync(path.join(os.tmpdir(), "bloom-lint-"));
  try {
    return migrations.flatMap((m) => {
      const file = path.join(work, `${m.name}.sql`);
      writeFileSync(file, m.sql);
      const exclude = [...RUNNER_HANDLED_RULES, ...m.allowedLintRules];
      const args = ["--reporter", "json", `--exclude=${exclude.join(",")}`];
      if (m.transactional) args.push("--assume-in-transaction"); // the runner wraps the file in one transaction
      if (pgVersion) args.push(`--pg-version=${pgVersion}`);
      args.push(file);
      const res = spawnSync(squawkBin(), args, { encoding: "utf8" });
      if (res.error || (res.status !== 0 && res.status !== 1)) throw new Error(`squawk could not lint ${m.name}: ${res.error?.message ?? res.stderr}`);
      const found = JSON.parse(res.stdout || "[]") as { rule_name: string; line: number; message: string }[];
      return found.map((v) => ({ migration: m.name, rule: v.rule_name, line: v.line + 1, message: v.message }));
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function assertLintClean(migrations: Migration[], pgVersion?: string): void {
  const violations = lintMigrations(migrations, pgVersion);
  if (violations.length) throw new LintError(violations);
}
