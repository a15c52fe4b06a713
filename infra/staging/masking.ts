import type { Client } from "pg";
import type { MaskStrategy } from "../compliance/columnAnnotations";
import { quoteIdent, quoteLiteral, textArrayLiteral } from "../naming";

/**
 * The local staging copy's masking, as SQL the source evaluates in the SELECT its COPY reads: the original values
 * never leave prod's server, not even into this process. Every function is keyed by the run key with
 * HMAC-SHA-256, written with Postgres's built-in sha256 (no extension on prod): the same key gives the same output
 * for the same input in every table (joins and composite uniques hold; two distinct inputs collide with odds of
 * 2^-64), a different key gives unrelated outputs, and without the key an output says nothing about its input.
 * Null stays null (absence is not personal).
 */
/** The names a masked person gets: a first name and a surname drawn by the digest. */
export const MASKED_NAMES = {
  first: ["Alba", "Bruno", "Carla", "Dario", "Elena", "Fabio", "Gala", "Hugo", "Irene", "Jon", "Lara", "Mateo", "Nora", "Oscar", "Paula", "Quim", "Rosa", "Sergi", "Tania", "Unai", "Vera", "Xavi", "Yara", "Zoe"],
  last: ["Arenas", "Bosch", "Cano", "Duran", "Esteve", "Ferrer", "Gil", "Herrero", "Ibarra", "Jover", "Llobet", "Mas", "Navas", "Ortiz", "Prat", "Quintana", "Roca", "Soler", "Tena", "Vidal"],
};
/** The lists as constant arrays (folded when the statement is planned; a subscript is cheaper than split_part). */
const asArray = (names: string[]) => ({ sql: `'{${names.join(",")}}'::text[]`, length: names.length });
const FIRST = asArray(MASKED_NAMES.first);
const LAST = asArray(MASKED_NAMES.last);
/** Where a staging copy's emails live: `.invalid` is reserved (RFC 2606), so none is ever a real inbox. */
export const MASKED_EMAIL_DOMAIN = "staging.invalid";
/** What every staff password hash becomes: no password verifies against it, so prod's passwords open nothing. */
export const MASKED_SECRET = "!masked-no-password-matches";
const REDACTED = "[masked]";
/** The most days a row's dates move forward (at least one: a date never stays). */
export const MAX_SHIFT_DAYS = 60;

const BLOCK = 64;

/** A run key HMAC takes as it is: 16 bytes at least, at most SHA-256's 64-byte block (longer keys are hashed first). */
export function checkRunKey(runKey: Buffer): void {
  if (runKey.length < 16 || runKey.length > BLOCK) throw new Error("the staging run key must be 16 to 64 bytes");
}

/**
 * HMAC's two padded keys (RFC 2104: the key zero-padded to SHA-256's 64-byte block, XOR 0x36 and 0x5c), which is
 * all the SQL needs: HMAC(k, m) = sha256(outer ‖ sha256(inner ‖ m)).
 */
export function hmacPads(runKey: Buffer): { inner: Buffer; outer: Buffer } {
  checkRunKey(runKey);
  const inner = Buffer.alloc(BLOCK, 0x36), outer = Buffer.alloc(BLOCK, 0x5c);
  for (let i = 0; i < runKey.length; i++) {
    inner[i]! ^= runKey[i]!;
    outer[i]! ^= runKey[i]!;
  }
  return { inner, outer };
}

/**
 * Gives the session (for the caller's transaction only) the padded keys, as bind parameters: never in a statement's
 * text, where pg_stat_activity and statement logs would show them.
 */
export async function shareMaskingKey(c: Client, runKey: Buffer): Promise<void> {
  const { inner, outer } = hmacPads(runKey);
  await c.query("SELECT pg_catalog.set_config('bloom.mask_inner', $1, true), pg_catalog.set_config('bloom.mask_outer', $2, true)", [inner.toString("hex"), outer.toString("hex")]);
}

/** The padded keys, decoded once per statement (a join with one row kept apart by OFFSET 0: inlined, they are decoded per value). */
const KEY_SOURCE = `(SELECT pg_catalog.decode(current_setting('bloom.mask_inner'), 'hex') AS i, pg_catalog.decode(current_setting('bloom.mask_outer'), 'hex') AS o OFFSET 0) AS bloom_mask`;

/** HMAC(run key, domain NUL text): domains keep one strategy's outputs unrelated to another's. */
function hmac(domain: string, text: string): string {
  const prefix = Buffer.concat([Buffer.from(domain), Buffer.from([0])]).toString("hex");
  return `pg_catalog.sha256(bloom_mask.o || pg_catalog.sha256(bloom_mask.i || pg_catalog.decode('${prefix}', 'hex') || pg_catalog.convert_to(${text}, 'UTF8')))`;
}

/** The `n`-th 16-bit number of a digest, for picking from a list (the bias of a modulo this small is immaterial). */
const word = (digest: string, n: number) => `(pg_catalog.get_byte(${digest}, ${2 * n}) * 256 + pg_catalog.get_byte(${digest}, ${2 * n + 1}))`;
const pick = (list: { sql: string; length: number }, digest: string, n: number) => `(${list.sql})[1 + ${word(digest, n)} % ${list.length}]`;

export interface MaskedColumn {
  column: string;
  /** As format_type gives it: date shifts need a date or timestamp. */
  type: string;
  strategy: MaskStrategy;
}

/**
 * The SELECT that reads `table`'s rows of `tenants` with every masked column replaced by its masked value, in the
 * table's column order; run where shareMaskingKey gave the key. A value used more than once per row (a digest, a
 * phone's template) is computed once, in an inner SELECT kept apart by OFFSET 0 (inlined, Postgres would evaluate
 * it at every use; a LATERAL subquery per row costs more than the value).
 */
export function maskedSelect(table: string, columns: MaskedColumn[], tenants: string[]): string {
  const helpers: string[] = [];
  const row = (col: string) => `r.${quoteIdent(col)}`;
  const once = (name: string, expr: string) => {
    helpers.push(`${expr} AS ${name}`);
    return `r.${name}`;
  };
  let shiftDays: string | undefined;
  const exprs = columns.map((col, n) => (col.strategy === "keep" ? row(col.column) : `CAST(${maskOne(col, col.strategy, n)} AS ${col.type})`));
  const rows = `SELECT r.*${helpers.map((h) => `, ${h}`).join("")} FROM ${KEY_SOURCE} CROSS JOIN "public".${quoteIdent(table)} AS r WHERE r."clinic_id" = ANY(${textArrayLiteral(tenants)})${helpers.length ? " OFFSET 0" : ""}`;
  return `SELECT ${exprs.join(", ")} FROM ${KEY_SOURCE} CROSS JOIN (${rows}) AS r`;

  function maskOne({ column, type }: MaskedColumn, strategy: Exclude<MaskStrategy, "keep">, n: number): string {
    const v = row(column);
    switch (strategy) {
      case "email":
        return `pg_catalog.encode(pg_catalog.substr(${hmac("email", v)}, 1, 8), 'hex') || '@${MASKED_EMAIL_DOMAIN}'`;
      case "secret":
        return `CASE WHEN ${v} IS NOT NULL THEN ${quoteLiteral(MASKED_SECRET)} END`;
      case "redact":
        return `CASE WHEN ${v} IS NOT NULL THEN ${quoteLiteral(REDACTED)} END`;
      case "token":
        // A provider's type prefix ("pi_") stays: the value still reads as what it is.
        return `CASE WHEN pg_catalog.strpos(${v}, '_') BETWEEN 2 AND 9 THEN pg_catalog.left(${v}, pg_catalog.strpos(${v}, '_')) ELSE '' END || 'masked' || pg_catalog.encode(pg_catalog.substr(${hmac("token", v)}, 1, 12), 'hex')`;
      case "phone":
        return maskPhone(v, once, n);
      case "person-name": {
        const d = once(`bloom_name_${n}`, hmac("name", v));
        const name = `${pick(FIRST, d, 0)} || ' ' || ${pick(LAST, d, 1)}`;
        // Two words never equal three: a name that drew itself gets a second surname (COALESCE evaluates that only then).
        return `COALESCE(NULLIF(${name}, ${v}), ${name} || ' ' || ${pick(LAST, d, 2)})`;
      }
      case "date-shift": {
        // A row's dates move together (a booking keeps its own order), by 1 to MAX_SHIFT_DAYS days keyed by the row.
        shiftDays ??= once("bloom_shift", hmac("row", `${quoteLiteral(`${table}:`)} || r."id"::text`));
        const days = `(1 + ${word(shiftDays, 0)} % ${MAX_SHIFT_DAYS})`;
        if (type === "date") return `${v} + ${days}`;
        if (/^timestamp\b/.test(type)) return `${v} + pg_catalog.make_interval(days => ${days})`;
        throw new Error(`${table}.${column} is ${type}: date-shift masks dates and timestamps only; annotate it with another strategy`);
      }
    }
  }
}

/**
 * Digits replaced, everything else kept, in one pass: the value's punctuation becomes a format() template with a
 * %s per digit (computed once per row), filled with the masked digits. "+34 6…" keeps its country code's two
 * digits and the next becomes 0; a national number starts 00 (the international access prefix): neither is ever a
 * dialable number. Fewer than three digits become "000".
 */
function maskPhone(v: string, once: (name: string, expr: string) => string, n: number): string {
  const slot = "E'\\x01'";
  // The value with each digit marked (translate keeps its length: positions are the value's).
  const marked = once(`bloom_phone_${n}`, `pg_catalog.translate(${v}, '0123456789', E'${"\\x01".repeat(10)}')`);
  const digitCount = `pg_catalog.length(${marked}) - pg_catalog.length(pg_catalog.replace(${marked}, ${slot}, ''))`;
  // The first two digits: where the marks say, at once for the usual "+CC…"; otherwise the value without its non-digits.
  const digits = `pg_catalog.translate(${v}, pg_catalog.translate(${v}, '0123456789', ''), '')`;
  const firstTwo = `CASE WHEN pg_catalog.substr(${marked}, 2, 2) = E'\\x01\\x01' THEN pg_catalog.substr(${v}, 2, 2) ELSE pg_catalog.left(${digits}, 2) END`;
  const prefix = `CASE WHEN pg_catalog.left(${v}, 1) = '+' THEN ${firstTwo} || '0' ELSE '00' END`;
  const hex = `pg_catalog.left(pg_catalog.repeat(pg_catalog.encode(${hmac("phone", v)}, 'hex'), 1 + pg_catalog.length(${v}) / 64), pg_catalog.length(${v}))`;
  const fill = `${prefix} || pg_catalog.translate(${hex}, 'abcdef', '012345')`;
  const template = `pg_catalog.replace(pg_catalog.replace(${marked}, '%', '%%'), ${slot}, '%s')`;
  // A null value has a null count: it takes the ELSE branch, and format() of a null template is null. format()
  // ignores the arguments left over.
  return `CASE WHEN ${digitCount} < 3 THEN '000' ELSE pg_catalog.format(${template}, VARIADIC pg_catalog.string_to_array(${fill}, NULL)) END`;
}
