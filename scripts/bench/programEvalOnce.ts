import { performance } from "node:perf_hooks";
import { readStackConfig } from "../../infra/config/stackFile";
import { promiseOf } from "../../test/pulumiMocks";
import { runPlatformUnderMocks } from "../../test/platformUnderMocks";

/**
 * One measurement in a fresh process (Pulumi's runtime state is process-global): evaluate the staging program with
 * N tenants under mocks, until every stack output has resolved. Prints JSON for programEval.ts.
 */
async function main() {
  const n = Number(process.argv[2]);
  const base = readStackConfig("staging");
  const tenants = Array.from({ length: n }, (_, i) => ({
    id: `clinic-${i}`,
    name: `Clinic ${i}`,
    tier: i % 10 === 0 ? "enterprise" : "standard",
    isolation: i % 10 === 0 ? "dedicated" : "pooled",
    residency: "eu",
    region: "aws-eu-central-1",
  }));
  const flags = { tenancy_enabled: { type: "boolean", default: false, tenants: Object.fromEntries(tenants.filter((_, i) => i % 7 === 0).map((t) => [t.id, true])) } };
  const config = { ...base, "bloom:tenants": JSON.stringify(tenants), "bloom:flags": JSON.stringify(flags) };
  const start = performance.now();
  const { registered, outputs, failure } = await runPlatformUnderMocks("staging", config);
  if (failure) throw failure;
  await Promise.all(Object.values(outputs).map((o) => promiseOf(o)));
  const ms = performance.now() - start;
  // Peak resident memory of this process (kilobytes), the program's and the mock engine's together.
  process.stdout.write(JSON.stringify({ tenants: n, ms, resources: registered.length, peakRssKb: process.resourceUsage().maxRSS }) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
