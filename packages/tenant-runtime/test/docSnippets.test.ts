import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * docs/app-runtime.md shows only code that runs: each TypeScript block is a file of examples/app-runtime as it is
 * (the root typecheck compiles them), and each of those files is run by a runtime test.
 */
const root = path.resolve(__dirname, "../../..");
const doc = readFileSync(path.join(root, "docs", "app-runtime.md"), "utf8");
const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const examples = readdirSync(path.join(root, "examples", "app-runtime")).filter((f) => f.endsWith(".ts"));
const runtimeTests = readdirSync(path.join(root, "packages", "tenant-runtime", "test")).filter((f) => f.endsWith(".runtime.test.ts"))
  .map((f) => readFileSync(path.join(root, "packages", "tenant-runtime", "test", f), "utf8")).join("\n");

describe("docs/app-runtime.md snippets", () => {
  it("every TypeScript block is an example file, shown as it is", () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      const file = /^\/\/ examples\/app-runtime\/([\w.]+\.ts)/.exec(block)?.[1];
      expect(file, `a block that names no examples/app-runtime file:\n${block.slice(0, 200)}`).toBeDefined();
      expect(block, file).toBe(readFileSync(path.join(root, "examples", "app-runtime", file!), "utf8"));
    }
  });

  it("every example file is on the page and run by a runtime test", () => {
    for (const file of examples) {
      expect(blocks.some((b) => b.startsWith(`// examples/app-runtime/${file}`)), `${file} is not on the page`).toBe(true);
      expect(runtimeTests, `${file} is imported by no runtime test`).toContain(`examples/app-runtime/${file.replace(/\.ts$/, "")}`);
    }
  });
});
