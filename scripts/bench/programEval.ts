import { execFileSync } from "node:child_process";
import path from "node:path";
import { parseArgs } from "node:util";
import { median } from "./stats";

/**
 * bench:program — how long the platform program takes to evaluate under mocks as the tenant count grows.
 * Targets: 1,000 tenants in <= 10 s, <= 4 ms marginal per tenant, growing linearly; peak RSS printed. Each size
 * runs in its own process, `--runs` times; the median counts.
 */
const { values } = parseArgs({ options: { tenants: { type: "string", default: "10,100,1000" }, runs: { type: "string", default: "3" } } });
const sizes = values.tenants!.split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
const runs = Math.max(1, Number(values.runs));
if (!sizes.length) throw new Error("--tenants must be a comma-separated list of positive integers, e.g. 10,100,1000");

const once = path.join(__dirname, "programEvalOnce.ts");
const results: { tenants: number; ms: number; resources: number; peakRssKb: number }[] = [];
for (const n of sizes) {
  const samples: number[] = [];
  let resources = 0;
  let peakRssKb = 0;
  for (let r = 0; r < runs; r++) {
    const out = execFileSync(process.execPath, ["--import", "tsx", once, String(n)], { encoding: "utf8" });
    const parsed = JSON.parse(out.trim().split("\n").pop()!);
    samples.push(parsed.ms);
    resources = parsed.resources;
    peakRssKb = Math.max(peakRssKb, parsed.peakRssKb);
  }
  results.push({ tenants: n, ms: median(samples), resources, peakRssKb });
  console.log(`tenants=${String(n).padStart(5)}  resources=${String(resources).padStart(5)}  median=${(median(samples) / 1000).toFixed(2)} s  samples=[${samples.map((s) => (s / 1000).toFixed(2)).join(", ")}]  peak RSS ${(peakRssKb / 1024).toFixed(0)} MB`);
}

const smallest = results[0]!;
for (const r of results.slice(1)) {
  // Linear growth: time per tenant stays flat. Subtract the smallest size's run as the fixed start-up cost.
  const perTenant = (r.ms - smallest.ms) / (r.tenants - smallest.tenants);
  console.log(`marginal cost ${smallest.tenants}→${r.tenants}: ${perTenant.toFixed(2)} ms/tenant (target <= 4)`);
}
if (results.length >= 3) {
  const [a, b, c] = results.slice(-3) as [typeof smallest, typeof smallest, typeof smallest];
  const ratio = ((c.ms - b.ms) / (c.tenants - b.tenants)) / ((b.ms - a.ms) / (b.tenants - a.tenants));
  console.log(`linearity (marginal cost of the last step / the one before) = ${ratio.toFixed(2)} (1.0 = linear)`);
}
const largest = results.at(-1)!;
console.log(`program-eval-${largest.tenants} = ${(largest.ms / 1000).toFixed(2)} s (target <= 10 s)`);
