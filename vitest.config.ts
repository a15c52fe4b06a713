import { defineConfig } from "vitest/config";

// Four layers, one runner (design §7). `npm test` runs unit + integration + security + contract; e2e has its own command.
export default defineConfig({
  test: {
    reporters: ["default", "./test/summaryReporter.ts"],
    projects: [
      { test: { name: "unit", include: ["{infra,components,stacks,scripts,policies}/**/*.test.ts"], exclude: ["**/*.{integration,contract,e2e,security}.test.ts", "**/node_modules/**"], testTimeout: 30_000 } },
      { test: { name: "integration", globalSetup: ["./test/globalSetup.ts"], include: ["**/*.integration.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false } },
      // The app role as the attacker (issue 9): real Postgres, every attack in its own transaction.
      { test: { name: "security", globalSetup: ["./test/globalSetup.ts"], include: ["**/*.security.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false } },
      { test: { name: "contract", globalSetup: ["./test/globalSetup.ts"], include: ["**/*.contract.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 120_000, hookTimeout: 120_000 } },
      { test: { name: "e2e", globalSetup: ["./test/globalSetup.ts"], include: ["**/*.e2e.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 600_000, hookTimeout: 600_000, fileParallelism: false } },
    ],
  },
});
