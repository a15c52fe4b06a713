// `prisma generate` offline. npm blocks Prisma's install scripts, so its CLI goes to download the schema engine on
// every command and fails without a network; generating needs no engine (the generator is Wasm), and the CLI skips
// the download when PRISMA_SCHEMA_ENGINE_BINARY names an existing file. `migrate` and `db pull` do need the real
// engine: the platform applies migrations itself (infra/migrations).
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";

const prismaCli = createRequire(import.meta.url).resolve("prisma/build/index.js");
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
  CHECKPOINT_DISABLE: "1",
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
};
execFileSync(process.execPath, [prismaCli, "generate", ...process.argv.slice(2)], { stdio: "inherit", env });
