import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Building a Go program from the module proxy (the only way to the Pulumi and Temporal CLIs here: their npm
 * packages download binaries at run time). Go ignores a dependency's replace directives, so each program is built
 * from a small wrapper module of ours that requires it (and repeats any replace it needs).
 */
export function haveGo(): boolean {
  return spawnSync("go", ["version"], { encoding: "utf8" }).status === 0;
}

export function go(args: string[], cwd: string): void {
  const res = spawnSync("go", args, { cwd, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? "local" } });
  if (res.status !== 0) throw new Error(`\`go ${args.join(" ")}\` failed in ${cwd} (exit ${res.status}); see the output above`);
}

/** Writes the wrapper module in `dir`: `go.mod` (requires, then any extra lines) and a tools file importing `pkg`. */
export function writeWrapperModule(dir: string, opts: { module: string; goVersion: string; requires: string[]; extra?: string[]; pkg: string }): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "go.mod"), [`module ${opts.module}`, "", `go ${opts.goVersion}`, "", "require (", ...opts.requires.map((r) => `\t${r}`), ")", "", ...(opts.extra ?? [])].join("\n"));
  writeFileSync(path.join(dir, "tools.go"), ["//go:build tools", "", "// Package tools pins the program so `go build` resolves it from this module.", "package tools", "", `import _ "${opts.pkg}"`, ""].join("\n"));
}
