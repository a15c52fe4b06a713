import { describe, expect, it } from "vitest";
import { BinaryInt8Rows } from "./verifyCopy";

/** COPY's binary format as Postgres writes it: signature, flags, header extension, rows, trailer. */
function binaryCopy(rows: (number | null)[][]): Buffer {
  const parts = [Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(4), Buffer.from([0, 0, 0, 4]), Buffer.from("ext!")];
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(row.length);
    parts.push(count);
    for (const v of row) {
      const field = Buffer.alloc(v === null ? 4 : 12);
      field.writeInt32BE(v === null ? -1 : 8);
      if (v !== null) field.writeBigInt64BE(BigInt(v), 4);
      parts.push(field);
    }
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

function parse(stream: Buffer, columns: number, chunk: number): (number | null)[][] {
  const out: number[][] = Array.from({ length: columns }, () => []);
  const parser = new BinaryInt8Rows(columns, (i, v) => out[i]!.push(v));
  for (let at = 0; at < stream.length; at += chunk) parser.write(stream.subarray(at, at + chunk));
  parser.end();
  return out;
}

describe("the binary COPY reader of the verification's keyed hashes", () => {
  const rows = [[0, 2 ** 52 - 1], [null, 4294967296 + 7], [123456789012345, null], [null, null], [1, 2]];
  const stream = binaryCopy(rows);

  it("reads every value of every row, nulls skipped, whatever the chunks (a header extension included)", () => {
    for (const chunk of [1, 2, 3, 5, 7, 11, 13, stream.length]) {
      expect(parse(stream, 2, chunk), `chunks of ${chunk}`).toEqual([[0, 123456789012345, 1], [2 ** 52 - 1, 4294967296 + 7, 2]]);
    }
  });

  it("refuses a stream cut inside a row, without its trailer, or of another shape", () => {
    expect(() => parse(stream.subarray(0, stream.length - 7), 2, 4)).toThrow(/ended inside a row/);
    expect(() => parse(stream.subarray(0, stream.length - 2), 2, 4)).toThrow(/ended inside a row/);
    expect(() => parse(stream, 3, 4)).toThrow(/a binary COPY row of 2 fields, 3 expected/);
    expect(() => parse(Buffer.concat([Buffer.from("PGCOPX"), stream.subarray(6)]), 2, 64)).toThrow(/not a binary COPY stream/);
  });
});
