// Test fixtures: instances that are cheap to send and would be costly to read carelessly: many
// empty elements, deeply nested sequences, values that claim gigabytes, all placed between SOP
// Instance UID and Study Instance UID (as a private block of group 0009 would be), where a header
// reader must get past them.
import { buildInstance, newInstanceUids } from "./dicom.js";
import { TS } from "./transfer-syntaxes.js";

export type Syntax = "implicit" | "explicit" | "big";
export const SYNTAX_UID: Record<Syntax, string> = { implicit: TS.implicitVRLittleEndian, explicit: TS.explicitVRLittleEndian, big: TS.explicitVRBigEndian };
const LONG = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"]);

/** One element's header (its value not included) in the given syntax. */
export function elementHead(syntax: Syntax, tag: number, vr: string, length: number): Buffer {
  const be = syntax === "big";
  const w16 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const w32 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
  const long = syntax === "implicit" || LONG.has(vr);
  const b = Buffer.alloc(long && syntax !== "implicit" ? 12 : 8);
  w16(b, tag >>> 16, 0);
  w16(b, tag & 0xffff, 2);
  if (syntax === "implicit") w32(b, length, 4);
  else {
    b.write(vr, 4, "latin1");
    if (long) w32(b, length, 8);
    else w16(b, length, 6);
  }
  return b;
}

/** Item (undefined length), item delimiter and sequence delimiter, in the syntax's byte order. */
export function delimiters(syntax: Syntax) {
  const tag = (element: number, length: number) => {
    const b = Buffer.alloc(8);
    const be = syntax === "big";
    if (be) b.writeUInt16BE(0xfffe, 0);
    else b.writeUInt16LE(0xfffe, 0);
    if (be) b.writeUInt16BE(element, 2);
    else b.writeUInt16LE(element, 2);
    if (be) b.writeUInt32BE(length, 4);
    else b.writeUInt32LE(length, 4);
    return b;
  };
  return { item: tag(0xe000, 0xffffffff), itemEnd: tag(0xe00d, 0), seqEnd: tag(0xe0dd, 0) };
}

/** An empty element a reader must read (an empty item it may skip). */
export const filler = (syntax: Syntax) => elementHead(syntax, 0x00091011, "SH", 0);

/** `n` empty elements in ascending order, in the odd groups 0009 to 0019 (up to half a million). */
export function emptyElements(syntax: Syntax, n: number): Buffer[] {
  if (n > 6 * 0xfff0) throw new Error("at most 6 groups of empty elements");
  return Array.from({ length: n }, (_, i) => elementHead(syntax, ((0x0009 + 2 * Math.floor(i / 0xfff0)) << 16) + 0x0010 + (i % 0xfff0), "SH", 0));
}

/** Sequences nested `depth` deep, each item holding the next sequence, the innermost one element (undefined lengths throughout). */
export function nestedSequences(syntax: Syntax, depth: number): Buffer[] {
  const { item, itemEnd, seqEnd } = delimiters(syntax);
  const head = elementHead(syntax, 0x00091010, "SQ", 0xffffffff);
  const open = Array.from({ length: depth }, () => [head, item]).flat();
  const close = Array.from({ length: depth }, () => [itemEnd, seqEnd]).flat();
  return [...open, filler(syntax), ...close];
}

/** An instance with `inserted` between SOP Instance UID and Study Instance UID. */
export function instanceWithInserted(syntax: Syntax, inserted: Buffer[], uids = newInstanceUids()): { data: Buffer; uids: typeof uids } {
  const whole = buildInstance({ ...uids, transferSyntax: SYNTAX_UID[syntax], pixels: 64 });
  // Modality (0008,0060) follows SOP Instance UID in buildInstance's data set.
  const at = whole.indexOf(Buffer.from(syntax === "big" ? [0x00, 0x08, 0x00, 0x60] : [0x08, 0x00, 0x60, 0x00]), 144 + whole.readUInt32LE(140));
  return { data: Buffer.concat([whole.subarray(0, at), ...inserted, whole.subarray(at)]), uids };
}
