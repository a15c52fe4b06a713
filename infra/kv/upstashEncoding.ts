/**
 * Upstash REST answers: `{ result }` or `{ error }`. With `Upstash-Encoding: base64` (what @upstash/redis sends),
 * every string in a result is base64 — except the status reply "OK", which the client expects verbatim.
 * Numbers and null pass through; arrays are encoded element by element.
 */
export type RedisValue = string | number | null | RedisValue[] | Buffer;

export function encodeResult(value: RedisValue, base64: boolean): unknown {
  if (value === null || typeof value === "number") return value;
  if (Array.isArray(value)) return value.map((v) => encodeResult(v, base64));
  const text = Buffer.isBuffer(value) ? value : Buffer.from(value, "utf8");
  if (!base64) return text.toString("utf8");
  return text.equals(OK) ? "OK" : text.toString("base64");
}

const OK = Buffer.from("OK");

/** A command as the REST API takes it: a non-empty array of strings and numbers, the command name first. */
export function parseCommand(value: unknown): { ok: true; command: (string | number)[] } | { ok: false; error: string } {
  if (!Array.isArray(value) || value.length === 0) return { ok: false, error: "ERR failed to parse command: expected a JSON array like [\"SET\", \"key\", \"value\"]" };
  if (typeof value[0] !== "string") return { ok: false, error: "ERR failed to parse command: the command name must be a string" };
  for (const arg of value) {
    if (typeof arg !== "string" && typeof arg !== "number" && typeof arg !== "boolean") return { ok: false, error: "ERR failed to parse command: arguments must be strings or numbers" };
  }
  return { ok: true, command: value.map((a) => (typeof a === "boolean" ? String(a) : a)) };
}
