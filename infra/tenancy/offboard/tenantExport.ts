import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Client } from "pg";
import { to as copyTo } from "pg-copy-streams";
import { quoteIdent, quoteLiteral } from "../../naming";
import { tenantDataTables } from "../tenantPolicies";
import { copyableColumns, tenantTableFingerprint, type TableFingerprint } from "../move/tableCopy";

/**
 * A tenant's export for offboarding: one binary COPY file per table, encrypted with AES-256-GCM (this is health
 * data) under a key the operator supplies, and a plain manifest with per-table row counts and checksums — of the
 * plaintext (sha256: verifies the decrypted file), of the encrypted file (verifies what was handed over) and the
 * row checksum the moves use (ties the export to the database it came from).
 * File layout: 12-byte IV, ciphertext, 16-byte GCM tag.
 */
export const EXPORT_CIPHER = "aes-256-gcm";

export interface ExportManifest {
  tenantId: string;
  createdAt: string;
  format: "postgres binary COPY, one file per table";
  cipher: typeof EXPORT_CIPHER;
  /** sha256 of the key, first 16 hex digits: which key opens the files, without revealing it. */
  keyId: string;
  tables: Record<string, { file: string; columns: string[]; rows: number; bytes: number; sha256: string; encryptedSha256: string; checksum: string }>;
}

export function parseExportKey(base64: string | undefined): Buffer {
  const key = base64 ? Buffer.from(base64, "base64") : Buffer.alloc(0);
  if (key.length !== 32) {
    throw new Error("BLOOM_EXPORT_KEY must hold a 32-byte key in base64 (the export is health data and is written encrypted): generate one with `openssl rand -base64 32`, and hand it to the clinic by a separate channel");
  }
  return key;
}

/** `length` bytes at `position` of a file, without reading the rest of it. */
function readBytes(file: string, position: number, length: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, position);
    return buf;
  } finally {
    closeSync(fd);
  }
}

export const keyId = (key: Buffer) => createHash("sha256").update(key).digest("hex").slice(0, 16);

export async function exportTenant(c: Client, tenantId: string, dir: string, key: Buffer, log: (l: string) => void = () => undefined): Promise<ExportManifest> {
  mkdirSync(dir, { recursive: true });
  if (readdirSync(dir).length) throw new Error(`--export ${dir} is not empty: give an empty or new folder (an export never overwrites files)`);
  const manifest: ExportManifest = { tenantId, createdAt: new Date().toISOString(), format: "postgres binary COPY, one file per table", cipher: EXPORT_CIPHER, keyId: keyId(key), tables: {} };
  for (const table of await tenantDataTables(c)) {
    const columns = await copyableColumns(c, table);
    const file = `${table}.copy.enc`;
    const iv = randomBytes(12);
    const cipher = createCipheriv(EXPORT_CIPHER, key, iv);
    const plain = createHash("sha256");
    const encrypted = createHash("sha256").update(iv);
    let bytes = 0;
    const out = createWriteStream(path.join(dir, file));
    out.write(iv);
    const source = c.query(copyTo(`COPY (SELECT ${columns.map(quoteIdent).join(", ")} FROM "public".${quoteIdent(table)} WHERE "clinic_id" = ${quoteLiteral(tenantId)}) TO STDOUT (FORMAT binary)`));
    const hashPlain = new Transform({ transform(chunk: Buffer, _e, done) { plain.update(chunk); bytes += chunk.length; done(null, chunk); } });
    const hashEncrypted = new Transform({
      transform(chunk: Buffer, _e, done) { encrypted.update(chunk); done(null, chunk); },
      flush(done) { const tag = cipher.getAuthTag(); encrypted.update(tag); done(null, tag); },
    });
    await pipeline(source, hashPlain, cipher, hashEncrypted, out);
    const fp: TableFingerprint = await tenantTableFingerprint(c, table, tenantId);
    manifest.tables[table] = { file, columns, rows: fp.rows, bytes, sha256: plain.digest("hex"), encryptedSha256: encrypted.digest("hex"), checksum: fp.checksum };
    log(`exported ${table}: ${fp.rows} rows, ${(bytes / 1e6).toFixed(1)} MB`);
  }
  writeFileSync(path.join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Decrypts every file of an export and checks it against the manifest; returns the problems (none: it verifies). */
export async function verifyExport(dir: string, key: Buffer): Promise<string[]> {
  const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as ExportManifest;
  if (manifest.keyId !== keyId(key)) return [`the key does not open this export (key id ${keyId(key)}, export made with ${manifest.keyId})`];
  const problems: string[] = [];
  for (const [table, entry] of Object.entries(manifest.tables)) {
    const file = path.join(dir, entry.file);
    const size = statSync(file).size;
    const head = readBytes(file, 0, 12);
    const tag = readBytes(file, size - 16, 16);
    const encrypted = createHash("sha256");
    await pipeline(createReadStream(file), new Transform({ transform(chunk: Buffer, _e, done) { encrypted.update(chunk); done(); } }));
    if (encrypted.digest("hex") !== entry.encryptedSha256) problems.push(`${table}: the encrypted file's sha256 differs from the manifest`);
    const decipher = createDecipheriv(EXPORT_CIPHER, key, head);
    decipher.setAuthTag(tag);
    const plain = createHash("sha256");
    try {
      await pipeline(createReadStream(file, { start: 12, end: size - 17 }), decipher, new Transform({ transform(chunk: Buffer, _e, done) { plain.update(chunk); done(); } }));
      if (plain.digest("hex") !== entry.sha256) problems.push(`${table}: the decrypted content's sha256 differs from the manifest`);
    } catch (err) {
      problems.push(`${table}: does not decrypt (${(err as Error).message})`);
    }
  }
  return problems;
}
