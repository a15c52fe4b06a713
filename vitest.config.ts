import { defineConfig } from "vitest/config";

// Four layers, one runner (design §7). `npm test` runs unit + integration + security + contract + runtime; e2e has its own command.
export default defineConfig({
  test: {
    reporters: ["default", "./test/summaryReporter.ts"],
    projects: [
      { test: { name: "unit", include: ["{infra,components,stacks,scripts,policies,prisma}/**/*.test.ts", "packages/*/test/**/*.test.ts"], exclude: ["**/*.{integration,contract,e2e,security,runtime}.test.ts", "**/node_modules/**"], testTimeout: 30_000, hookTimeout: 60_000 } },
      { test: { name: "integration", globalSetup: ["./test/globalSetup.ts"], include: ["**/*.integration.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false } },
      // The app role as the attacker (issue 9): real Postgres, every attack in its own transaction.
      { test: { name: "security", globalSetup: ["./test/globalSetup.ts"], include: ["**/*.security.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false } },
      { test: { name: "contract", globalSetup: ["./test/globalSetup.ts"], include: ["**/*.contract.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 120_000, hookTimeout: 120_000 } },
      // The app's side (issue 17): the runtime package with the real clients (pg, Prisma 7, @upstash/ratelimit) on the local stack's services.
      { test: { name: "runtime", globalSetup: ["./test/globalSetup.ts"], include: ["**/*.runtime.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false } },
      // The suites that run real stacks start from a test server without an earlier run's projects (test/stackLeftovers.ts).
      { test: { name: "gates", globalSetup: ["./test/globalSetup.ts", "./test/stackLeftovers.ts"], include: ["examples/bloom-app/gates/**/*.gates.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 600_000, hookTimeout: 900_000, fileParallelism: false } },
      { test: { name: "e2e", globalSetup: ["./test/globalSetup.ts", "./test/stackLeftovers.ts"], include: ["**/*.e2e.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 600_000, hookTimeout: 600_000, fileParallelism: false } },
    ],
  },
});
