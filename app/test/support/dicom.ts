// Test fixtures: synthetic PS3.10 instances, hand-encoded so that tests do not depend on the
// code under test to build their inputs.
import { randomUUID } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { pickSyntaxes, TS } from "./transfer-syntaxes.js";

/**
 * The syntaxes the unit and route tests build instances in: the four native encodings (one of
 * them deflated) and one of each compressed family, which buildInstance encapsulates.
 */
export const SYNTHETIC_SYNTAXES = pickSyntaxes([
  "implicitVRLittleEndian",
  "explicitVRLittleEndian",
  "deflatedExplicitVRLittleEndian",
  "explicitVRBigEndian",
  "jpegBaseline8Bit",
  "jpegLosslessSV1",
  "jpeg2000Lossless",
  "rleLossless",
]);

export const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";

export interface InstanceOptions {
  studyUid?: string;
  seriesUid?: string;
  sopInstanceUid?: string;
  sopClassUid?: string;
  transferSyntax?: string;
  /** Pixel data bytes, or a byte count of a deterministic pattern. */
  pixels?: Buffer | number;
  /** Attributes to leave out of the data set, as "GGGGEEEE". */
  omit?: string[];
  patientName?: string;
  patientId?: string;
}

/** A fresh, valid UID under the 2.25 root (a random UUID as a decimal integer). */
export function newUid(): string {
  return `2.25.${BigInt("0x" + randomUUID().replace(/-/g, ""))}`;
}

/** Fresh Study, Series and SOP Instance UIDs for one instance. */
export function newInstanceUids(): { studyUid: string; seriesUid: string; sopInstanceUid: string } {
  return { studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() };
}

type Element = { tag: number; vr: string; value: Buffer; undefinedLength?: boolean };

const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"]);

function pad(value: Buffer, vr: string): Buffer {
  if (value.length % 2 === 0) return value;
  return Buffer.concat([value, Buffer.from([vr === "UI" || vr === "OB" || vr === "UN" ? 0 : 0x20])]);
}

function text(vr: string, s: string): Buffer {
  return pad(Buffer.from(s, "latin1"), vr);
}

function encode(el: Element, explicit: boolean, bigEndian: boolean): Buffer {
  const group = el.tag >>> 16;
  const elem = el.tag & 0xffff;
  const len = el.undefinedLength ? 0xffffffff : el.value.length;
  const w16 = (b: Buffer, v: number, o: number) => (bigEndian ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  const w32 = (b: Buffer, v: number, o: number) => (bigEndian ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o));
  let head: Buffer;
  if (!explicit) {
    head = Buffer.alloc(8);
    w16(head, group, 0);
    w16(head, elem, 2);
    w32(head, len, 4);
  } else if (LONG_VRS.has(el.vr)) {
    head = Buffer.alloc(12);
    w16(head, group, 0);
    w16(head, elem, 2);
    head.write(el.vr, 4, "latin1");
    w32(head, len, 8);
  } else {
    head = Buffer.alloc(8);
    w16(head, group, 0);
    w16(head, elem, 2);
    head.write(el.vr, 4, "latin1");
    w16(head, len, 6);
  }
  return Buffer.concat([head, el.value]);
}

function us(v: number, bigEndian: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (bigEndian) b.writeUInt16BE(v);
  else b.writeUInt16LE(v);
  return b;
}

function patternBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

function encapsulate(pixels: Buffer): Buffer {
  // Empty basic offset table, one fragment, sequence delimiter (always little endian).
  const item = (data: Buffer) => {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(0xfffe, 0);
    h.writeUInt16LE(0xe000, 2);
    h.writeUInt32LE(data.length, 4);
    return Buffer.concat([h, data]);
  };
  const frag = pixels.length % 2 ? Buffer.concat([pixels, Buffer.from([0])]) : pixels;
  const delim = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  return Buffer.concat([item(Buffer.alloc(0)), item(frag), delim]);
}

export function buildInstance(opts: InstanceOptions = {}): Buffer {
  const ts = opts.transferSyntax ?? TS.explicitVRLittleEndian;
  const sopClass = opts.sopClassUid ?? CT_IMAGE_STORAGE;
  const sopInstance = opts.sopInstanceUid ?? newUid();
  const omit = new Set((opts.omit ?? []).map((t) => parseInt(t, 16)));
  const explicit = ts !== TS.implicitVRLittleEndian;
  const bigEndian = ts === TS.explicitVRBigEndian;
  const encapsulated = ![TS.implicitVRLittleEndian, TS.explicitVRLittleEndian, TS.deflatedExplicitVRLittleEndian, TS.explicitVRBigEndian].includes(ts as never);
  const pixels = Buffer.isBuffer(opts.pixels) ? opts.pixels : patternBytes(opts.pixels ?? 512);

  const ds: Element[] = [
    { tag: 0x00080016, vr: "UI", value: text("UI", sopClass) },
    { tag: 0x00080018, vr: "UI", value: text("UI", sopInstance) },
    { tag: 0x00080060, vr: "CS", value: text("CS", "CT") },
    { tag: 0x00100010, vr: "PN", value: text("PN", opts.patientName ?? "PHANTOM^TEST") },
    { tag: 0x00100020, vr: "LO", value: text("LO", opts.patientId ?? "PHANTOM-0001") },
    { tag: 0x0020000d, vr: "UI", value: text("UI", opts.studyUid ?? newUid()) },
    { tag: 0x0020000e, vr: "UI", value: text("UI", opts.seriesUid ?? newUid()) },
    { tag: 0x00280010, vr: "US", value: us(16, bigEndian) },
    { tag: 0x00280011, vr: "US", value: us(16, bigEndian) },
    encapsulated
      ? { tag: 0x7fe00010, vr: "OB", value: encapsulate(pixels), undefinedLength: true }
      : { tag: 0x7fe00010, vr: "OW", value: pad(pixels, "OB") },
  ].filter((el) => !omit.has(el.tag));
  let body = Buffer.concat(ds.map((el) => encode(el, explicit, bigEndian)));
  if (ts === TS.deflatedExplicitVRLittleEndian) body = deflateRawSync(body);

  const metaElements: Element[] = [
    { tag: 0x00020001, vr: "OB", value: Buffer.from([0, 1]) },
    { tag: 0x00020002, vr: "UI", value: text("UI", sopClass) },
    { tag: 0x00020003, vr: "UI", value: text("UI", sopInstance) },
    { tag: 0x00020010, vr: "UI", value: text("UI", ts) },
    { tag: 0x00020012, vr: "UI", value: text("UI", "1.2.826.0.1.3680043.10.1379.1") },
  ];
  const meta = Buffer.concat(metaElements.map((el) => encode(el, true, false)));
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(meta.length);
  const header = Buffer.concat([
    Buffer.alloc(128),
    Buffer.from("DICM", "latin1"),
    encode({ tag: 0x00020000, vr: "UL", value: groupLength }, true, false),
    meta,
  ]);
  return Buffer.concat([header, body]);
}
