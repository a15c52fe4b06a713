import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Writes a prisma/migrations-shaped folder: { "<name>": sql } (and optional squawk.allow per name). */
export function writeMigrationsDir(migrations: Record<string, string>, allow: Record<string, string[]> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bloom-migrations-"));
  for (const [name, sql] of Object.entries(migrations)) addMigration(dir, name, sql, allow[name]);
  return dir;
}

export function addMigration(dir: string, name: string, sql: string, allow?: string[]): void {
  mkdirSync(path.join(dir, name), { recursive: true });
  writeFileSync(path.join(dir, name, "migration.sql"), sql);
  if (allow) writeFileSync(path.join(dir, name, "squawk.allow"), allow.join("\n"));
}
