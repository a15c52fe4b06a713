import { defineConfig } from "@playwright/test";

/**
 * The playbook's gates against a running example app (BLOOM_APP_URL), in four projects: `api` (the leakage test and
 * the headers; `request` needs no browser), `browser` (the headers and the CSP in Debian's Chromium, BLOOM_CHROMIUM),
 * `prisma` (the app's data layer on DATABASE_URL without a server), `move` (the isolation test looped through a move).
 */
export default defineConfig({
  testDir: ".",
  retries: 0,
  workers: 1,
  reporter: [["list"], ["json", { outputFile: process.env.BLOOM_GATE_REPORT ?? "gate-report.json" }]],
  outputDir: process.env.BLOOM_GATE_OUTPUT ?? "test-results",
  use: { baseURL: process.env.BLOOM_APP_URL },
  projects: [
    { name: "api", testMatch: /(leakage|headers)\.spec\.ts/ },
    {
      name: "browser",
      testMatch: /browser\.spec\.ts/,
      use: {
        browserName: "chromium",
        launchOptions: {
          executablePath: process.env.BLOOM_CHROMIUM ?? "/usr/bin/chromium",
          // This machine's network is closed: without these, Chromium's own background connections fail at start.
          args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        },
      },
    },
    { name: "prisma", testMatch: /prisma\.spec\.ts/ },
    { name: "move", testMatch: /move\.spec\.ts/ },
  ],
});
