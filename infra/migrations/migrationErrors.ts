/** Errors phrased like Prisma's (with its codes), plus what to run next. */
export class FailedMigrationsError extends Error {
  readonly code = "P3009";
  constructor(readonly database: string, readonly failed: { name: string; startedAt: Date; logs: string | null }[]) {
    super(
      `${database}: found failed migrations in the target database, new migrations will not be applied (P3009).\n` +
        failed.map((f) => `  The \`${f.name}\` migration started at ${f.startedAt.toISOString()} failed${f.logs ? `: ${firstLine(f.logs)}` : ""}`).join("\n") +
        `\nFix the database, then mark it: \`npm run bloom -- migrate resolve --rolled-back ${failed[0]!.name}\` (to re-run it) or \`--applied ${failed[0]!.name}\` (if you completed it by hand).`,
    );
    this.name = "FailedMigrationsError";
  }
}

export class MigrationFailedError extends Error {
  readonly code = "P3018";
  constructor(readonly database: string, readonly migration: string, readonly cause: Error) {
    super(`${database}: migration \`${migration}\` failed to apply and was recorded as failed (P3018): ${cause.message}`);
    this.name = "MigrationFailedError";
  }
}

export class ResolveError extends Error {
  constructor(readonly code: "P3008" | "P3011" | "P3017", message: string) {
    super(`${message} (${code})`);
    this.name = "ResolveError";
  }
}

function firstLine(text: string): string {
  return text.split("\n").find((l) => l.trim()) ?? text;
}

/**
 * Prisma's P1002: another deploy holds the migration lease past Prisma's patience (10 s), or a session that can run
 * migrations holds Prisma's key (a real `prisma migrate`, seen in pg_locks; refused at once: the platform takes and waits on no advisory key).
 */
export class MigrationLockHeldError extends Error {
  readonly code = "P1002";
  constructor(readonly database: string, readonly waitedMs: number, held: { lease: string | undefined } | { prismaKeyHolders: string }) {
    super("lease" in held
      ? `${database}: timed out after ${waitedMs} ms waiting for the platform's migration lease${held.lease ? `, held by ${held.lease}` : ""} (P1002): another deploy is running on this database; wait for it to finish and run again`
      : `${database}: Prisma's migration key (72707369) is held by ${held.prismaKeyHolders}, which can run migrations (P1002): a \`prisma migrate\` is running on this database; wait for it to finish and run again`);
    this.name = "MigrationLockHeldError";
  }
}
