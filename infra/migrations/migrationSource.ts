import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** One Prisma migration folder: `<timestamp>_<name>/migration.sql`, with an optional `squawk.allow`. */
export interface Migration {
  name: string;
  sql: string;
  /** Lowercase hex sha256 of migration.sql, exactly as `prisma migrate deploy` records it. */
  checksum: string;
  /** CONCURRENTLY cannot run inside a transaction: such a file runs statement by statement, in autocommit. */
  transactional: boolean;
  /** Lint rules this migration may break, each listed on purpose in squawk.allow. */
  allowedLintRules: string[];
}

const CONCURRENTLY = /\b(CREATE|DROP)\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b|\bREINDEX\b[^;]*\bCONCURRENTLY\b|\bDETACH\s+PARTITION\b[^;]*\bCONCURRENTLY\b/i;

export const checksumOf = (sql: string): string => createHash("sha256").update(sql, "utf8").digest("hex");

/**
 * Whether a recorded checksum matches a script as Prisma judges it: the script as is, or with its line endings
 * turned to LF or to CRLF (a checkout with git's autocrlf must not count as a modified migration).
 */
export function checksumMatches(recorded: string, sql: string): boolean {
  const lf = sql.replace(/\r\n/g, "\n");
  return [sql, lf, lf.replace(/\n/g, "\r\n")].some((variant) => checksumOf(variant) === recorded);
}

export function loadMigrations(dir: string): Migration[] {
  if (!existsSync(dir)) throw new Error(`migrations folder ${dir} does not exist: point bloom:migrations.dir at the app's prisma/migrations`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, "migration.sql")))
    .map((e) => e.name)
    .sort() // Prisma applies folders in lexicographic (timestamp) order
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, "migration.sql"), "utf8");
      const allowFile = path.join(dir, name, "squawk.allow");
      const allowedLintRules = existsSync(allowFile)
        ? readFileSync(allowFile, "utf8").split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean)
        : [];
      return { name, sql, checksum: checksumOf(sql), transactional: !CONCURRENTLY.test(stripComments(sql)), allowedLintRules };
    });
}

/** One hash over every migration's name and content: the deploy hook re-runs when it changes. */
export function migrationsContentHash(migrations: Migration[]): string {
  const h = createHash("sha256");
  for (const m of migrations) h.update(`${m.name}\0${m.checksum}\0${m.allowedLintRules.join(",")}\n`);
  return h.digest("hex");
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
}
