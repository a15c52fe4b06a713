import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { ENGINE_BIN, ENGINE_DIR, findEngine, sdkVersion } from "./engineLocation";

/**
 * setup:pulumi — make a Pulumi CLI compatible with the installed @pulumi/pulumi available.
 * The npm `pulumi` package downloads the CLI at run time, which this network forbids; the CLI is a Go program on
 * the Go module proxy, so we build it. Go ignores a dependency's replace directives, hence the small wrapper module
 * that requires the CLI's module and the SDK module at the same version.
 */
const CLI_MODULE = "github.com/pulumi/pulumi/pkg/v3";
const SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3";
const LANGUAGE_HOST_MODULE = "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3";

function log(message: string) {
  process.stdout.write(`[setup:pulumi] ${message}\n`);
}

function haveGo(): boolean {
  return spawnSync("go", ["version"], { encoding: "utf8" }).status === 0;
}

function go(args: string[], cwd: string) {
  const res = spawnSync("go", args, { cwd, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? "local" } });
  if (res.status !== 0) throw new Error(`\`go ${args.join(" ")}\` failed in ${cwd} (exit ${res.status}); see the output above`);
}

/** The dynamic-provider plugin ships inside @pulumi/pulumi; the engine looks for it beside the CLI and on PATH. */
function installDynamicProviderPlugin() {
  const shim = path.join(path.dirname(require.resolve("@pulumi/pulumi/package.json")), "pulumi-resource-pulumi-nodejs");
  const target = path.join(ENGINE_BIN, "pulumi-resource-pulumi-nodejs");
  copyFileSync(shim, target);
  chmodSync(target, 0o755);
}

function languageHostServed(version: string): boolean {
  const res = spawnSync("go", ["list", "-m", "-json", `${LANGUAGE_HOST_MODULE}@v${version}`], { encoding: "utf8", env: { ...process.env, GOFLAGS: "-mod=mod" }, cwd: ENGINE_DIR });
  return res.status === 0;
}

function build(version: string) {
  const src = path.join(ENGINE_DIR, "src");
  mkdirSync(src, { recursive: true });
  mkdirSync(ENGINE_BIN, { recursive: true });
  const withHost = languageHostServed(version);
  writeFileSync(path.join(src, "go.mod"), [
    "module bloom.local/pulumi-engine",
    "",
    "go 1.24",
    "",
    "require (",
    `\t${CLI_MODULE} v${version}`,
    `\t${SDK_MODULE} v${version}`,
    ...(withHost ? [`\t${LANGUAGE_HOST_MODULE} v${version}`] : []),
    ")",
    "",
  ].join("\n"));
  writeFileSync(path.join(src, "tools.go"), [
    "//go:build tools",
    "",
    "// Package tools pins the Pulumi CLI (and language host) so `go build` resolves them from this module.",
    "package tools",
    "",
    `import _ "${CLI_MODULE}/cmd/pulumi"`,
    ...(withHost ? [`import _ "${LANGUAGE_HOST_MODULE}"`] : []),
    "",
  ].join("\n"));
  log(`building the Pulumi CLI v${version} from the Go module proxy (first time: several minutes on 2 cores)`);
  go(["mod", "tidy"], src);
  const ldflags = `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${version}`;
  go(["build", "-ldflags", ldflags, "-o", path.join(ENGINE_BIN, "pulumi"), `${CLI_MODULE}/cmd/pulumi`], src);
  if (withHost) {
    go(["build", "-ldflags", ldflags, "-o", path.join(ENGINE_BIN, "pulumi-language-nodejs"), LANGUAGE_HOST_MODULE], src);
  } else {
    log(`the Node.js language host (${LANGUAGE_HOST_MODULE}) is not served by the Go module proxy here:`);
    log("  plain `pulumi up` cannot start a Node program; use `npm run up:local` (Automation API, inline program) instead");
  }
}

function main() {
  const started = performance.now();
  const wanted = sdkVersion();
  const found = findEngine();
  if (found) {
    if (found.source === "built") installDynamicProviderPlugin();
    log(`using ${found.source === "path" ? "pulumi on PATH" : "the built CLI"}: v${found.version} in ${found.binDir} (SDK ${wanted})`);
    log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return;
  }
  if (!haveGo()) {
    throw new Error(`no Pulumi CLI >= ${wanted} on PATH and no Go toolchain to build one: install Go (https://go.dev/dl, or the machine image's /usr/local/go) or put a Pulumi CLI >= ${wanted} on PATH`);
  }
  build(wanted);
  installDynamicProviderPlugin();
  const version = execFileSync(path.join(ENGINE_BIN, "pulumi"), ["version"], { encoding: "utf8" }).trim();
  log(`built ${version} into ${ENGINE_BIN} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`[setup:pulumi] ${(err as Error).message}\n`);
  process.exit(1);
}
