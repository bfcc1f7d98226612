// A minimal walk over the top level of a data set, to find a few attributes where dcmjs gives
// up: chiefly UN elements of undefined length, which PS3.5 6.2.2 says hold an implicit VR
// little endian sequence, and which anonymised real-world files often carry.

export interface WalkOptions {
  littleEndian: boolean;
  explicit: boolean;
}

export type WalkResult =
  | { kind: "values"; values: Map<number, Buffer>; stoppedAt: "greater-tag" | "end-of-buffer" }
  | { kind: "truncated"; values: Map<number, Buffer> }
  | { kind: "malformed"; message: string; values: Map<number, Buffer> };

const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"]);
const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;
const MAX_DEPTH = 32;

class Truncated extends Error {}
class Malformed extends Error {}

/**
 * Reads top-level elements from `offset`, keeping the values of `wanted` tags, and stops after
 * the first tag greater than `lastTag` or at the end of the buffer.
 */
export function walkTopLevel(buf: Buffer, offset: number, opts: WalkOptions, wanted: Set<number>, lastTag: number): WalkResult {
  const values = new Map<number, Buffer>();
  const r = new Reader(buf, offset);
  try {
    while (r.pos < buf.length) {
      const el = readElement(r, opts, 0);
      if (wanted.has(el.tag) && el.value) values.set(el.tag, el.value);
      if (el.tag > lastTag) return { kind: "values", values, stoppedAt: "greater-tag" };
    }
    return { kind: "values", values, stoppedAt: "end-of-buffer" };
  } catch (e) {
    if (e instanceof Truncated) return { kind: "truncated", values };
    if (e instanceof Malformed) return { kind: "malformed", message: e.message, values };
    throw e;
  }
}

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
  ) {}
  need(n: number) {
    if (this.pos + n > this.buf.length) throw new Truncated();
  }
  u16(le: boolean) {
    this.need(2);
    const v = le ? this.buf.readUInt16LE(this.pos) : this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(le: boolean) {
    this.need(4);
    const v = le ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  skip(n: number) {
    this.need(n);
    this.pos += n;
  }
}

function readElement(r: Reader, opts: WalkOptions, depth: number): { tag: number; value?: Buffer } {
  const le = opts.littleEndian;
  const group = r.u16(le);
  const element = r.u16(le);
  const tag = ((group << 16) | element) >>> 0;
  if (group === 0xfffe) throw new Malformed(`unexpected item tag (FFFE,${element.toString(16).toUpperCase()}) in a data set`);
  let vr: string | undefined;
  let length: number;
  if (opts.explicit) {
    r.need(2);
    vr = r.buf.toString("latin1", r.pos, r.pos + 2);
    r.pos += 2;
    if (!/^[A-Z]{2}$/.test(vr)) throw new Malformed("invalid VR");
    if (LONG_VRS.has(vr)) {
      r.skip(2);
      length = r.u32(le);
    } else length = r.u16(le);
  } else length = r.u32(le);

  if (length !== UNDEFINED) {
    const start = r.pos;
    r.skip(length);
    return { tag, value: r.buf.subarray(start, start + length) };
  }
  if (depth >= MAX_DEPTH) throw new Malformed("sequences nested too deeply");
  // Undefined length: a sequence, encapsulated pixel data, or (UN) an implicit VR LE sequence.
  const itemOpts = vr === "UN" ? { littleEndian: true, explicit: false } : opts;
  skipItems(r, itemOpts, depth + 1, vr === "OB" || vr === "OW" || tag === 0x7fe00010);
  return { tag };
}

function skipItems(r: Reader, opts: WalkOptions, depth: number, fragments: boolean): void {
  // Item and delimiter tags are little endian except in big endian data sets.
  const le = opts.littleEndian;
  for (;;) {
    const tag = ((r.u16(le) << 16) | r.u16(le)) >>> 0;
    const length = r.u32(le);
    if (tag === SEQUENCE_END) return;
    if (tag !== ITEM) throw new Malformed("expected an item in a sequence");
    if (length !== UNDEFINED) {
      r.skip(length);
      continue;
    }
    if (fragments) throw new Malformed("encapsulated fragment of undefined length");
    // An item of undefined length: a nested data set up to the item delimiter.
    for (;;) {
      r.need(4);
      const peek = ((le ? r.buf.readUInt16LE(r.pos) : r.buf.readUInt16BE(r.pos)) << 16) | (le ? r.buf.readUInt16LE(r.pos + 2) : r.buf.readUInt16BE(r.pos + 2));
      if (peek >>> 0 === ITEM_END) {
        r.skip(8);
        break;
      }
      readElement(r, opts, depth);
    }
  }
}
