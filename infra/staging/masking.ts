import type { MaskStrategy } from "../compliance/columnAnnotations";
import { FastHmac } from "./fastHmac";

/**
 * The masking functions of a staging copy, keyed by the run key: the same key gives the same output for the same
 * input in every table (joins and composite uniques hold; two distinct inputs collide with odds of 2^-64), a
 * different key gives unrelated outputs, and without the key an output says nothing about its input (HMAC-SHA-256).
 * Values arrive and leave as strings (the text form COPY uses); null stays null (absence is not personal).
 */
const FIRST = ["Alba", "Bruno", "Carla", "Dario", "Elena", "Fabio", "Gala", "Hugo", "Irene", "Jon", "Lara", "Mateo", "Nora", "Oscar", "Paula", "Quim", "Rosa", "Sergi", "Tania", "Unai", "Vera", "Xavi", "Yara", "Zoe"];
const LAST = ["Arenas", "Bosch", "Cano", "Duran", "Esteve", "Ferrer", "Gil", "Herrero", "Ibarra", "Jover", "Llobet", "Mas", "Navas", "Ortiz", "Prat", "Quintana", "Roca", "Soler", "Tena", "Vidal"];
/** Where a staging copy's emails live: `.invalid` is reserved (RFC 2606), so none is ever a real inbox. */
export const MASKED_EMAIL_DOMAIN = "staging.invalid";
/** What every staff password hash becomes: no password verifies against it, so prod's passwords open nothing. */
export const MASKED_SECRET = "!masked-no-password-matches";
const REDACTED = "[masked]";

export class Masker {
  private readonly hmac: FastHmac;

  constructor(runKey: Buffer) {
    if (runKey.length < 16 || runKey.length > 64) throw new Error("the staging run key must be 16 to 64 bytes");
    this.hmac = new FastHmac(runKey);
  }

  /** HMAC-SHA-256(run key, domain NUL value); the buffer is reused by the next call, so read it at once. */
  private digest(domain: string, value: string): Buffer {
    return this.hmac.digest(`${domain}\0${value}`);
  }

  /** `rowKey` identifies the row (table and primary key): date shifts are per row, the rest per value. */
  mask(strategy: MaskStrategy, value: string | null, rowKey: string): string | null {
    if (value === null || strategy === "keep") return value;
    switch (strategy) {
      case "email":
        return `${this.digest("email", value).toString("hex", 0, 8)}@${MASKED_EMAIL_DOMAIN}`;
      case "phone":
        return this.phone(value);
      case "person-name":
        return this.personName(value);
      case "secret":
        return MASKED_SECRET;
      case "token": {
        const cut = value.indexOf("_");
        const prefix = cut > 0 && cut <= 8 ? value.slice(0, cut + 1) : "";
        return `${prefix}masked${this.digest("token", value).toString("hex", 0, 12)}`;
      }
      case "date-shift":
        return this.shift(value, rowKey);
      case "redact":
        return REDACTED;
    }
  }

  /**
   * Digits replaced, everything else kept. "+34 6…" keeps its country code's two digits and the next becomes 0; a
   * national number starts 00 (the international access prefix): neither is ever a dialable number.
   */
  private phone(value: string): string {
    const d = this.digest("phone", value);
    const international = value.startsWith("+");
    let seen = 0;
    let out = "";
    for (const ch of value) {
      if (ch < "0" || ch > "9") {
        out += ch;
        continue;
      }
      if (international) out += seen < 2 ? ch : seen === 2 ? "0" : String(d[seen % d.length]! % 10);
      else out += seen < 2 ? "0" : String(d[seen % d.length]! % 10);
      seen++;
    }
    return seen >= 3 ? out : "000";
  }

  // A row's shifted columns share one offset: the last row's is kept, so its second date costs no digest.
  private lastRow = "";
  private lastOffset = 0;
  private readonly shifted = new Map<string, string>();

  private shift(value: string, rowKey: string): string {
    if (rowKey !== this.lastRow) {
      this.lastRow = rowKey;
      this.lastOffset = 1 + (this.digest("row", rowKey).readUInt32BE(0) % 60);
    }
    // Dates repeat (a year of days times 60 offsets): each distinct day and offset is computed once.
    const day = value.slice(0, 10);
    const key = `${day}+${this.lastOffset}`;
    let moved = this.shifted.get(key);
    if (moved === undefined) {
      moved = shiftDate(day, this.lastOffset);
      if (this.shifted.size < 100_000) this.shifted.set(key, moved);
    }
    return moved + value.slice(10);
  }

  private personName(value: string): string {
    for (let attempt = 0; ; attempt++) {
      const d = this.digest("name", `${attempt}:${value}`);
      const name = `${FIRST[d.readUInt16BE(0) % FIRST.length]} ${LAST[d.readUInt16BE(2) % LAST.length]}`;
      if (name !== value) return name;
    }
  }
}

/** A date (YYYY-MM-DD) or timestamp moved forward by whole days, in the same text form. */
function shiftDate(value: string, days: number): string {
  const m = /^(\d{4}-\d{2}-\d{2})(.*)$/.exec(value);
  if (!m) return value;
  const d = new Date(`${m[1]}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10) + m[2];
}
