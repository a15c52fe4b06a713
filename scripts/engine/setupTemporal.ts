import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { TEMPORAL_CLI, TEMPORAL_CLI_DIR, TEMPORAL_CLI_MODULE, TEMPORAL_CLI_STAMP, TEMPORAL_CLI_VERSION, builtTemporalCli } from "../../infra/controlPlane/temporalDevServer";
import { go, haveGo, writeWrapperModule } from "./goBuild";

/**
 * setup:temporal — the Temporal CLI (its dev server is the local stack's workflow engine), built once from the Go
 * module proxy at the pinned version into `.temporal-cli/` (gitignored) and reused after (a stamp file says which
 * version it is). About 6 minutes and 250 MB on 2 cores the first time.
 */
const log = (m: string) => process.stdout.write(`[setup:temporal] ${m}\n`);

function main() {
  const started = performance.now();
  const built = builtTemporalCli();
  if (built) return log(`using the built CLI v${TEMPORAL_CLI_VERSION}: ${path.relative(REPO_ROOT, built)} (cached)`);
  if (!haveGo()) throw new Error(`no Go toolchain to build the Temporal CLI (${TEMPORAL_CLI_MODULE}): install Go (https://go.dev/dl, or the machine image's /usr/local/go)`);
  const src = path.join(TEMPORAL_CLI_DIR, "src");
  writeWrapperModule(src, { module: "bloom.local/temporal-cli", goVersion: "1.24", requires: [`${TEMPORAL_CLI_MODULE} v${TEMPORAL_CLI_VERSION}`], pkg: `${TEMPORAL_CLI_MODULE}/cmd/temporal` });
  mkdirSync(path.dirname(TEMPORAL_CLI), { recursive: true });
  log(`building ${TEMPORAL_CLI_MODULE} v${TEMPORAL_CLI_VERSION} from the Go module proxy (first time: about 6 minutes on 2 cores)`);
  try {
    go(["mod", "tidy"], src);
    go(["build", "-o", TEMPORAL_CLI, `${TEMPORAL_CLI_MODULE}/cmd/temporal`], src);
  } catch (err) {
    throw new Error(`could not build ${TEMPORAL_CLI_MODULE}@v${TEMPORAL_CLI_VERSION} from the Go module proxy (${(err as Error).message}): the module or one of its dependencies was refused; GOPROXY=${process.env.GOPROXY ?? "(go env default)"}`);
  }
  writeFileSync(TEMPORAL_CLI_STAMP, `${TEMPORAL_CLI_VERSION}\n`);
  log(`built ${path.relative(REPO_ROOT, TEMPORAL_CLI)} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (err) {
  console.error(`[setup:temporal] ${(err as Error).message}`);
  process.exit(1);
}
