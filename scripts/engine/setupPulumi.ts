import { execFileSync } from "node:child_process";
import { go, haveGo, writeWrapperModule } from "./goBuild";
import { copyFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { ENGINE_BIN, ENGINE_DIR, findEngine, sdkVersion } from "./engineLocation";

/**
 * setup:pulumi — make a Pulumi CLI compatible with the installed @pulumi/pulumi available.
 * The npm `pulumi` package downloads the CLI at run time, which this network forbids; the CLI is a Go program on
 * the Go module proxy, so we build it (goBuild.ts), from a wrapper module that requires the CLI's module and the SDK
 * module at the same version.
 */
const CLI_MODULE = "github.com/pulumi/pulumi/pkg/v3";
const SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3";
/**
 * The Node language host, which the plain `pulumi` CLI needs to run a Node program (bin/pulumi). From v3.69.0 it is
 * its own module, which the Go proxy here refuses; up to v3.68.0 it lives in the SDK module, which is served. The
 * CLI's "at least the SDK's version" rule does not apply to it: the 3.68 host runs programs on the 3.248 SDK.
 */
const LANGUAGE_HOST_SDK_VERSION = "3.68.0";
const LANGUAGE_HOST_PACKAGE = `${SDK_MODULE}/nodejs/cmd/pulumi-language-nodejs`;
const LANGUAGE_HOST_BIN = path.join(ENGINE_BIN, "pulumi-language-nodejs");
const LANGUAGE_HOST_STAMP = path.join(ENGINE_BIN, ".pulumi-language-nodejs.version");

function log(message: string) {
  process.stdout.write(`[setup:pulumi] ${message}\n`);
}

/** The dynamic-provider plugin ships inside @pulumi/pulumi; the engine looks for it beside the CLI and on PATH. */
function installDynamicProviderPlugin() {
  const shim = path.join(path.dirname(require.resolve("@pulumi/pulumi/package.json")), "pulumi-resource-pulumi-nodejs");
  const target = path.join(ENGINE_BIN, "pulumi-resource-pulumi-nodejs");
  copyFileSync(shim, target);
  chmodSync(target, 0o755);
}

function build(version: string) {
  const src = path.join(ENGINE_DIR, "src");
  mkdirSync(ENGINE_BIN, { recursive: true });
  writeWrapperModule(src, { module: "bloom.local/pulumi-engine", goVersion: "1.24", requires: [`${CLI_MODULE} v${version}`, `${SDK_MODULE} v${version}`], pkg: `${CLI_MODULE}/cmd/pulumi` });
  log(`building the Pulumi CLI v${version} from the Go module proxy (first time: several minutes on 2 cores)`);
  go(["mod", "tidy"], src);
  go(["build", "-ldflags", `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${version}`, "-o", path.join(ENGINE_BIN, "pulumi"), `${CLI_MODULE}/cmd/pulumi`], src);
}

/** The Node language host beside the CLI, built once from its own wrapper module (it repeats the SDK's replace). */
function ensureLanguageHost(engine: { source: "path" | "built"; binDir: string }) {
  if (existsSync(LANGUAGE_HOST_BIN) && existsSync(LANGUAGE_HOST_STAMP) && readFileSync(LANGUAGE_HOST_STAMP, "utf8").trim() === LANGUAGE_HOST_SDK_VERSION) {
    log(`Node language host v${LANGUAGE_HOST_SDK_VERSION}: ${LANGUAGE_HOST_BIN} (cached)`);
    return;
  }
  if (engine.source === "path" && existsSync(path.join(engine.binDir, "pulumi-language-nodejs"))) {
    log(`Node language host: the one beside pulumi on PATH (${engine.binDir})`);
    return;
  }
  if (!haveGo()) throw new Error(`the plain CLI needs the Node language host (${LANGUAGE_HOST_PACKAGE}) and there is no Go toolchain to build it: install Go`);
  const src = path.join(ENGINE_DIR, "language-host");
  mkdirSync(ENGINE_BIN, { recursive: true });
  writeWrapperModule(src, {
    module: "bloom.local/pulumi-language-host", goVersion: "1.21", requires: [`${SDK_MODULE} v${LANGUAGE_HOST_SDK_VERSION}`], pkg: LANGUAGE_HOST_PACKAGE,
    extra: ["// The SDK module's own replace, which Go does not apply to a dependency.", "replace golang.org/x/text => golang.org/x/text v0.3.6", ""],
  });
  log(`building the Node language host from ${SDK_MODULE}@v${LANGUAGE_HOST_SDK_VERSION} (about a minute)`);
  try {
    go(["mod", "tidy"], src);
    go(["build", "-ldflags", `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${LANGUAGE_HOST_SDK_VERSION}`, "-o", LANGUAGE_HOST_BIN, LANGUAGE_HOST_PACKAGE], src);
  } catch (err) {
    throw new Error(`could not build the Node language host from ${SDK_MODULE}@v${LANGUAGE_HOST_SDK_VERSION} (${(err as Error).message}): the plain CLI (bin/pulumi) needs it; the Automation API paths (npm run local, bloom) do not`);
  }
  writeFileSync(LANGUAGE_HOST_STAMP, `${LANGUAGE_HOST_SDK_VERSION}\n`);
}

function main() {
  const started = performance.now();
  const wanted = sdkVersion();
  const found = findEngine();
  if (found) {
    if (found.source === "built") installDynamicProviderPlugin();
    log(`using ${found.source === "path" ? "pulumi on PATH" : "the built CLI"}: v${found.version} in ${found.binDir} (SDK ${wanted})`);
    ensureLanguageHost(found);
    log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return;
  }
  if (!haveGo()) {
    throw new Error(`no Pulumi CLI >= ${wanted} on PATH and no Go toolchain to build one: install Go (https://go.dev/dl, or the machine image's /usr/local/go) or put a Pulumi CLI >= ${wanted} on PATH`);
  }
  build(wanted);
  installDynamicProviderPlugin();
  ensureLanguageHost({ source: "built", binDir: ENGINE_BIN });
  const version = execFileSync(path.join(ENGINE_BIN, "pulumi"), ["version"], { encoding: "utf8" }).trim();
  log(`built ${version} into ${ENGINE_BIN} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`[setup:pulumi] ${(err as Error).message}\n`);
  process.exit(1);
}
