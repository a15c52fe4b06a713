import { defineConfig } from "prisma/config";

// Prisma 7 reads its connection from here, not from the schema. The platform applies migrations itself
// (infra/migrations, `prisma migrate deploy`'s bookkeeping); this file serves `prisma generate` and, where the
// schema engine is installed, Prisma's own CLI against the migrator's direct URL (stack output migratorDatabaseUrl).
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DIRECT_DATABASE_URL ?? "postgresql://localhost/bloom" },
});
