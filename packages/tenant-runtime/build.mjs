// Compiles src/ twice — CommonJS and ES modules, each with declarations — and marks each output folder with its
// module type, so `require` and `import` each get code Node loads without a loader.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
rmSync(path.join(here, "dist"), { recursive: true, force: true });
for (const [format, type] of [["cjs", "commonjs"], ["esm", "module"]]) {
  execFileSync(process.execPath, [tsc, "-p", path.join(here, `tsconfig.${format}.json`)], { stdio: "inherit" });
  mkdirSync(path.join(here, "dist", format), { recursive: true });
  writeFileSync(path.join(here, "dist", format, "package.json"), JSON.stringify({ type }) + "\n");
}
