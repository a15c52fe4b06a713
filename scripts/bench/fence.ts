import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { runWithTenant } from "@bloom/tenant-runtime";
import { median } from "./stats";
import { withCredentials } from "../../infra/database/sql/appRole";
import { withBenchDatabase } from "./benchDatabase";
import { REPO_ROOT } from "../../infra/config/stackFile";
import { fenceTenant, FENCE_TRIGGER } from "../../infra/tenancy/tenantFence";

/**
 * bench:fence — what the fence trigger costs the unfenced path: a single-row UPDATE as the app (a runWithTenant
 * unit: BEGIN, set_config, UPDATE, COMMIT), with the trigger off, with the trigger as migration 20261203000000
 * wrote it (reads the fences only), and as it is now (20261206000000: also tests the snapshot against the latest
 * fence). Another tenant is fenced throughout, so the latest-fence check is live. Arms interleaved per round.
 * Headline: fence-overhead-now (target: no more than the previous trigger's overhead, ≈ 1.07–1.12).
 */
const { values } = parseArgs({ options: { writes: { type: "string", default: "3000" } } });
const writes = Number(values.writes);

async function main() {
  await withBenchDatabase("fence", async ({ url, app }) => {
    const admin = new Client({ connectionString: url });
    await admin.connect();
    await admin.query(`INSERT INTO clinic (id, name) SELECT 'c' || g, 'C' FROM generate_series(1, 100) g`);
    await admin.query(`INSERT INTO branch (id, name, clinic_id) SELECT 'b' || g, 'B', 'c' || (1 + g % 100) FROM generate_series(1, 10000) g`);
    // The previous trigger function, from its own migration, under another name and trigger.
    const previous = /CREATE OR REPLACE FUNCTION "bloom_platform"\."refuse_fenced_write"\(\)[\s\S]*?\$fn\$;/.exec(
      readFileSync(path.join(REPO_ROOT, "prisma", "migrations", "20261203000000_tenant_moves", "migration.sql"), "utf8"))![0];
    await admin.query(previous.replace('"refuse_fenced_write"()', '"refuse_fenced_write_previous"()'));
    await admin.query(`CREATE TRIGGER bench_fence_previous BEFORE INSERT OR UPDATE OR DELETE ON "branch" FOR EACH ROW EXECUTE FUNCTION "bloom_platform"."refuse_fenced_write_previous"()`);
    await fenceTenant(admin, "c100", "moving", { waitMs: 5_000 }); // a fence elsewhere: the snapshot check has a fence to test
    await admin.query("ANALYZE");

    const arms = { off: [] as number[], previous: [] as number[], now: [] as number[] };
    const setArm = async (arm: keyof typeof arms) => {
      await admin.query(`ALTER TABLE "branch" ${arm === "now" ? "ENABLE" : "DISABLE"} TRIGGER ${FENCE_TRIGGER}`);
      await admin.query(`ALTER TABLE "branch" ${arm === "previous" ? "ENABLE" : "DISABLE"} TRIGGER bench_fence_previous`);
    };
    const bound = new Client({ connectionString: withCredentials(url, app.name, app.password) });
    await bound.connect();
    const batch = 100;
    const order: (keyof typeof arms)[][] = [["off", "previous", "now"], ["now", "off", "previous"], ["previous", "now", "off"]];
    for (let round = 0, done = 0; done < writes + batch; round++, done += batch) {
      for (const arm of order[round % 3]!) {
        await setArm(arm);
        for (let i = 0; i < batch; i++) {
          const k = 1 + ((done + i) % 99); // c100 is the fenced one
          const clinic = `c${k}`;
          const branch = `b${k - 1 + 100 * (1 + (i % 50))}`; // branch g belongs to clinic c(1 + g % 100)
          const t = performance.now();
          await runWithTenant(bound, clinic, (c) => c.query(`UPDATE "branch" SET name = $2 WHERE id = $1`, [branch, `n${i}`]));
          if (done >= batch) arms[arm].push(performance.now() - t); // the first round warms up
        }
      }
    }
    await setArm("now");
    await bound.end();
    await admin.end();
    const m = (k: keyof typeof arms) => median(arms[k]);
    console.log(`single-row UPDATE as the app (runWithTenant unit), median of ${arms.off.length} each, interleaved: off ${m("off").toFixed(3)} ms, previous trigger ${m("previous").toFixed(3)} ms, current trigger ${m("now").toFixed(3)} ms`);
    console.log(`fence-overhead-previous = ${(m("previous") / m("off")).toFixed(3)}`);
    console.log(`fence-overhead-now = ${(m("now") / m("off")).toFixed(3)} (target: <= the previous trigger's)`);
    console.log(`now-vs-previous = ${(m("now") / m("previous")).toFixed(3)}`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
