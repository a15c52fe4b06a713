import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT, stackFilePath } from "./stackFile";
import { validatePlatformConfig } from "./validate";

/**
 * docs/runbooks/tenant-onboarding.md shows only what works: its config entry, added to the local stack's file, is a
 * valid config with one more pooled clinic, and every `npm run` it names is one of package.json's scripts.
 */
const doc = readFileSync(path.join(REPO_ROOT, "docs", "runbooks", "tenant-onboarding.md"), "utf8");
const blocks = (lang: string) => [...doc.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);

describe("the pooled onboarding runbook", () => {
  it("its tenant entry, added to the local stack's config, validates as one more pooled clinic", () => {
    const [yamlBlock] = blocks("yaml");
    const entry = (parse(yamlBlock!) as { "bloom:tenants": Record<string, unknown>[] })["bloom:tenants"];
    const config = (parse(readFileSync(stackFilePath("local"), "utf8")) as { config: Record<string, unknown> }).config;
    const tenants = [...(config["bloom:tenants"] as unknown[]), ...entry];
    const cfg = validatePlatformConfig((k) => (k === "tenants" ? tenants : config[`bloom:${k}`]));
    expect(cfg.tenants.at(-1)).toMatchObject({ id: "sunrise-physio", isolation: "pooled", tier: "standard" });
  });

  it("names only scripts package.json has", () => {
    const scripts = (JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    const named = blocks("bash").flatMap((b) => [...b.matchAll(/npm run (\S+)/g)].map((m) => m[1]!));
    expect(named.length).toBeGreaterThan(0);
    for (const s of named) expect(scripts, s).toHaveProperty([s]);
  });
});
