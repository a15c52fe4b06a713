import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { maskedColumns } from "../../infra/compliance/columnAnnotations";
import { REPO_ROOT, stackFilePath } from "../../infra/config/stackFile";
import { validatePlatformConfig } from "../../infra/config/validate";

/**
 * docs/runbooks/staging-refresh.md shows only what works: its declaration validates in staging's config (and is
 * refused on prod), every flag its commands use is one the CLI parses, and its table of masked columns is the
 * annotations' own.
 */
const doc = readFileSync(path.join(REPO_ROOT, "docs", "runbooks", "staging-refresh.md"), "utf8");
const blocks = (lang: string) => [...doc.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
const stagingConfig = (parse(readFileSync(stackFilePath("staging"), "utf8")) as { config: Record<string, unknown> }).config;

describe("the staging refresh runbook", () => {
  it("its declaration validates on staging and is refused on prod", () => {
    const declared = (parse(blocks("yaml")[0]!) as Record<string, unknown>)["bloom:stagingCopy"];
    const read = (env: string) => (k: string) => (k === "stagingCopy" ? declared : k === "environment" ? env : stagingConfig[`bloom:${k}`]);
    expect(validatePlatformConfig(read("staging")).stagingCopy).toEqual({ from: "prod", sample: "10%", keepPreviousDays: 7 });
    expect(() => validatePlatformConfig(read("prod"))).toThrow(/bloom:stagingCopy: is set on prod: prod is never the target of a copy/);
  });

  it("uses only commands and flags the CLI has", () => {
    const cli = readFileSync(path.join(REPO_ROOT, "scripts", "bloom.ts"), "utf8");
    const lines = blocks("bash").flatMap((b) => b.split("\n")).filter((l) => l.startsWith("npm run bloom -- "));
    expect(lines.length).toBe(3);
    for (const line of lines) {
      expect(line, line).toMatch(/^npm run bloom -- staging refresh /);
      for (const [, flag] of line.split("#")[0]!.matchAll(/--([a-z-]+)/g)) expect(cli, `--${flag}`).toMatch(new RegExp(`"?${flag}"?: \\{ type:`));
    }
    expect(cli).toContain('command === "staging" && sub === "refresh"');
  });

  it("lists exactly the columns the annotations mask, with their category and strategy", () => {
    const rows = [...doc.matchAll(/^\| (\w+\.\w+) \| ([\w-]+) \| ([\w-]+) \|$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    expect(rows).toEqual(maskedColumns().map((c) => `${c.table}.${c.column} ${c.category} ${c.mask}`));
  });
});
