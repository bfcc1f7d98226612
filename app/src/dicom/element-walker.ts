// A minimal walk over the top level of a data set: to find a few attributes where dcmjs gives
// up (chiefly UN elements of undefined length, which PS3.5 6.2.2 says hold an implicit VR
// little endian sequence, and which anonymised real-world files often carry), and, strictly,
// for the fast header read of well-formed instances (scanElements).

export interface WalkOptions {
  littleEndian: boolean;
  explicit: boolean;
}

export type WalkResult =
  | { kind: "values"; values: Map<number, Buffer>; stoppedAt: "greater-tag" | "end-of-buffer" }
  | { kind: "truncated"; values: Map<number, Buffer> }
  | { kind: "malformed"; message: string; values: Map<number, Buffer> };

/** A VR as the number its two ASCII letters make (big endian), so that no string is made per element. */
const vrCode = (vr: string) => (vr.charCodeAt(0) << 8) | vr.charCodeAt(1);
const codes = (vrs: string) => new Set(vrs.split(" ").map(vrCode));
const LONG_VRS = codes("OB OD OF OL OV OW SQ UC UN UR UT");
/** VRs whose encoding the walker and dcmjs agree on (OL, OV, SV and UV they do not both know alike). */
const COMMON_VRS = codes("AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OW PN SH SL SQ SS ST TM UC UI UL UN UR US UT");
/** Binary VRs and the size of one value: dcmjs reads them value by value, so a length that is not a multiple throws it off. */
const VALUE_SIZES = new Map(Object.entries({ AT: 4, FL: 4, SL: 4, UL: 4, FD: 8, SS: 2, US: 2 }).map(([vr, size]) => [vrCode(vr), size]));
const VR_OB = vrCode("OB");
const VR_OW = vrCode("OW");
const VR_UN = vrCode("UN");
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
      if (el.length !== undefined && wanted.has(el.tag)) values.set(el.tag, buf.subarray(el.start, el.start + el.length));
      if (el.tag > lastTag) return { kind: "values", values, stoppedAt: "greater-tag" };
    }
    return { kind: "values", values, stoppedAt: "end-of-buffer" };
  } catch (e) {
    if (e instanceof Truncated) return { kind: "truncated", values };
    if (e instanceof Malformed) return { kind: "malformed", message: e.message, values };
    throw e;
  }
}

export interface ScanResult {
  values: Map<number, Buffer>;
  /** "greater-tag": stopped before the first element past lastTag; "end": read up to `end` exactly. */
  stoppedAt: "greater-tag" | "end";
}

/**
 * Reads elements from `offset` in strictly ascending tag order, keeping the defined-length values
 * of `wanted` tags (which must have the VR `wantedVr`, where VRs are explicit), and stops before
 * the first tag greater than `lastTag` (without reading that element) or exactly at `end`. Null
 * when anything is unusual: tags out of order, a VR that is not common, a wanted element of
 * another VR or of undefined length, an element running past `end`, malformed or truncated data.
 */
export function scanElements(buf: Buffer, offset: number, end: number, opts: WalkOptions, wanted: Set<number>, wantedVr: string, lastTag: number): ScanResult | null {
  const values = new Map<number, Buffer>();
  const r = new Reader(end === buf.length ? buf : buf.subarray(0, end), offset);
  const le = opts.littleEndian;
  let previous = -1;
  try {
    while (r.pos < end) {
      r.need(4);
      const group = le ? r.buf.readUInt16LE(r.pos) : r.buf.readUInt16BE(r.pos);
      const element = le ? r.buf.readUInt16LE(r.pos + 2) : r.buf.readUInt16BE(r.pos + 2);
      const tag = ((group << 16) | element) >>> 0;
      if (tag > lastTag) return { values, stoppedAt: "greater-tag" };
      if (tag <= previous) return null;
      previous = tag;
      const el = readElement(r, opts, 0);
      if (el.vr !== undefined && !COMMON_VRS.has(el.vr)) return null;
      if (el.length !== undefined && !plausibleLength(tag, el.vr, el.length)) return null;
      if (wanted.has(tag)) {
        if (el.length === undefined || (el.vr !== undefined && el.vr !== vrCode(wantedVr))) return null;
        values.set(tag, r.buf.subarray(el.start, el.start + el.length));
      }
    }
    return { values, stoppedAt: "end" };
  } catch (e) {
    if (e instanceof Truncated || e instanceof Malformed) return null;
    throw e;
  }
}

/** Even (PS3.5 7.1.1), a group length of 4 bytes, a binary value a whole number of values. */
function plausibleLength(tag: number, vr: number | undefined, length: number): boolean {
  if (length % 2 !== 0) return false;
  if ((tag & 0xffff) === 0 && length !== 4) return false;
  const size = vr === undefined ? undefined : VALUE_SIZES.get(vr);
  return size === undefined || length % size === 0;
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

/** One element read: its tag, VR (explicit syntaxes; as a vrCode) and, unless undefined, where its value lies. */
interface ElementRead {
  tag: number;
  vr?: number;
  start: number;
  length?: number;
}

const isUpper = (c: number) => c >= 0x41 && c <= 0x5a;

function readElement(r: Reader, opts: WalkOptions, depth: number): ElementRead {
  const le = opts.littleEndian;
  const group = r.u16(le);
  const element = r.u16(le);
  const tag = ((group << 16) | element) >>> 0;
  if (group === 0xfffe) throw new Malformed(`unexpected item tag (FFFE,${element.toString(16).toUpperCase()}) in a data set`);
  let vr: number | undefined;
  let length: number;
  if (opts.explicit) {
    r.need(2);
    const c0 = r.buf[r.pos]!;
    const c1 = r.buf[r.pos + 1]!;
    r.pos += 2;
    if (!isUpper(c0) || !isUpper(c1)) throw new Malformed("invalid VR");
    vr = (c0 << 8) | c1;
    if (LONG_VRS.has(vr)) {
      r.skip(2);
      length = r.u32(le);
    } else length = r.u16(le);
  } else length = r.u32(le);

  if (length !== UNDEFINED) {
    const start = r.pos;
    r.skip(length);
    return { tag, vr, start, length };
  }
  if (depth >= MAX_DEPTH) throw new Malformed("sequences nested too deeply");
  // Undefined length: a sequence, encapsulated pixel data, or (UN) an implicit VR LE sequence.
  const itemOpts = vr === VR_UN ? { littleEndian: true, explicit: false } : opts;
  skipItems(r, itemOpts, depth + 1, vr === VR_OB || vr === VR_OW || tag === 0x7fe00010);
  return { tag, vr, start: r.pos };
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
