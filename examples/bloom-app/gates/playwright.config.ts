import { defineConfig } from "@playwright/test";

/** The playbook's E2E gate against a running example app (BLOOM_APP_URL); `request` needs no browser. */
export default defineConfig({
  testDir: ".",
  testMatch: /.*\.spec\.ts/,
  retries: 0,
  workers: 1,
  reporter: [["list"], ["json", { outputFile: process.env.BLOOM_GATE_REPORT ?? "gate-report.json" }]],
  use: { baseURL: process.env.BLOOM_APP_URL },
});
