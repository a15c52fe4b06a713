import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/config/stackFile";

/**
 * What the engine would store in plain text: every resource's inputs that are not secrets, the dynamic resources'
 * `__provider` among them. Each provider used to be serialized with its closure, which took the SDK's config store
 * along, so every dynamic resource's state held the whole stack config, the API keys in plain text (issue 21).
 * Under tsx, as the engine's paths compile the program: vitest's own compile never showed it.
 */
describe.each(["staging", "prod"])("%s stack: plain inputs under tsx (mocks)", (stack) => {
  it("hold no platform secret, the serialized providers included", () => {
    const out = execFileSync(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "test", "plainInputs.ts"), stack], { cwd: REPO_ROOT, encoding: "utf8" });
    const { dynamic, providers, findings } = JSON.parse(out.trim().split("\n").pop()!) as { dynamic: number; providers: number; findings: string[] };
    expect(dynamic).toBeGreaterThan(10);
    expect(providers).toBe(dynamic);
    expect(findings).toEqual([]);
  }, 60_000);
});
