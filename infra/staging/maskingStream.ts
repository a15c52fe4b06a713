import { Transform, type TransformCallback } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { MaskStrategy } from "../compliance/columnAnnotations";
import type { Masker } from "./masking";

/**
 * COPY's text format, masked on its way through: one row per line, fields split by tabs, `\N` for null, and tabs,
 * newlines and backslashes inside a value written as backslash escapes (so a raw tab or newline is always a
 * separator). A value is masked in its escaped form, which is a function of the value alone, so the same value
 * masks the same everywhere; the masked values this platform writes hold no character that needs escaping.
 * Only the masked stream ever reaches the target: the original values are never written there, not even to be
 * overwritten (which would leave them in dead tuples and the WAL).
 */
export interface ColumnMask {
  index: number;
  strategy: MaskStrategy;
}

const NULL = "\\N";

export class MaskingStream extends Transform {
  private pending = "";
  // A chunk may end inside a multi-byte character: the decoder holds its first bytes back.
  private readonly decoder = new StringDecoder("utf8");
  rows = 0;

  /** `keyIndex`: the primary key's field, which names the row for per-row strategies (date shifts). */
  constructor(private readonly table: string, private readonly masks: ColumnMask[], private readonly keyIndex: number, private readonly masker: Masker) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const text = this.pending + this.decoder.write(chunk);
    const end = text.lastIndexOf("\n");
    if (end < 0) {
      this.pending = text;
      return done();
    }
    this.pending = text.slice(end + 1);
    const lines = text.slice(0, end).split("\n");
    for (let i = 0; i < lines.length; i++) lines[i] = this.maskLine(lines[i]!);
    this.rows += lines.length;
    done(null, `${lines.join("\n")}\n`);
  }

  override _flush(done: TransformCallback): void {
    if (this.pending || this.decoder.end()) return done(new Error(`${this.table}: the COPY stream ended inside a row`));
    done();
  }

  private maskLine(line: string): string {
    if (!this.masks.length) return line;
    const fields = line.split("\t");
    const rowKey = `${this.table}:${fields[this.keyIndex]}`;
    for (const m of this.masks) {
      const value = fields[m.index]!;
      fields[m.index] = this.masker.mask(m.strategy, value === NULL ? null : value, rowKey) ?? NULL;
    }
    return fields.join("\t");
  }
}
