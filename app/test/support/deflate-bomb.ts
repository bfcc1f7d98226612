// Test fixture: a Deflated Explicit VR Little Endian instance (PS3.5 A.5) whose data set holds a
// long run of zero bytes (a private OB value) before Study Instance UID. The deflate stream
// (RFC 1951) is written by hand so that it comes out as a stream of a few MiB however long the
// run: one dynamic Huffman block in which the match "258 bytes at distance 1" has two one-bit
// codes, so every 258 zeros cost 2 bits (1 GiB in 1 MiB, the ratio zlib -9 reaches) and its bytes
// are themselves zeros, sent from one reused buffer. Nothing of the run is ever held in memory.
import { buildInstance, CT_IMAGE_STORAGE, newUid } from "./dicom.js";
import { TS } from "./transfer-syntaxes.js";

export interface DeflateBomb {
  /** The whole instance, in order; the middle is one zero buffer yielded again and again. */
  chunks(): Generator<Buffer>;
  /** Bytes on the wire. */
  size: number;
  /** Bytes of the data set once inflated. */
  inflatedSize: number;
  uids: { studyUid: string; seriesUid: string; sopInstanceUid: string };
}

/** Bits least significant first, as deflate packs them; Huffman codes go most significant bit first. */
class BitWriter {
  private readonly out: number[] = [];
  private byte = 0;
  private used = 0;
  bits(value: number, count: number): void {
    for (let i = 0; i < count; i++) {
      this.byte |= ((value >>> i) & 1) << this.used;
      if (++this.used === 8) this.flushByte();
    }
  }
  code(code: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) this.bits((code >>> i) & 1, 1);
  }
  align(): void {
    if (this.used > 0) this.flushByte();
  }
  get aligned(): boolean {
    return this.used === 0;
  }
  /** The whole bytes written so far (a partial byte stays). */
  take(): Buffer {
    return Buffer.from(this.out.splice(0, this.out.length));
  }
  private flushByte(): void {
    this.out.push(this.byte);
    this.byte = 0;
    this.used = 0;
  }
}

function storedBlock(w: BitWriter, data: Buffer, final: boolean): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length || at === 0; at += 0xffff) {
    const piece = data.subarray(at, at + 0xffff);
    const last = final && at + 0xffff >= data.length;
    w.bits(last ? 1 : 0, 1);
    w.bits(0, 2);
    w.align();
    w.bits(piece.length, 16);
    w.bits(~piece.length & 0xffff, 16);
    out.push(w.take(), piece);
    if (data.length === 0) break;
  }
  return out;
}

/** A dynamic block's header: literal 0 and end-of-block 2 bits, length code 285 (258 bytes) 1 bit, distance code 0 (distance 1) 1 bit. */
function dynamicHeader(w: BitWriter): void {
  w.bits(0, 1); // not final
  w.bits(2, 2); // dynamic Huffman
  w.bits(286 - 257, 5); // HLIT: literal/length codes 0..285
  w.bits(1 - 1, 5); // HDIST: one distance code
  w.bits(19 - 4, 4); // HCLEN: all 19 code length code lengths follow
  // Code length alphabet: 1, 2, 17 and 18 get 2 bits each (canonical codes 00, 01, 10, 11).
  const clLengths: Record<number, number> = { 1: 2, 2: 2, 17: 2, 18: 2 };
  for (const sym of [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]) w.bits(clLengths[sym] ?? 0, 3);
  const CL = { 1: 0b00, 2: 0b01, 17: 0b10, 18: 0b11 } as const;
  const zeros = (n: number) => {
    w.code(CL[18], 2);
    w.bits(n - 11, 7);
  };
  w.code(CL[2], 2); // literal 0: 2 bits
  zeros(138); // literals 1..138
  zeros(117); // literals 139..255
  w.code(CL[2], 2); // 256, end of block: 2 bits
  zeros(28); // length codes 257..284
  w.code(CL[1], 2); // 285, length 258: 1 bit
  w.code(CL[1], 2); // distance code 0, distance 1: 1 bit
}
// Canonical codes of that block: 285 -> 0, literal 0 -> 10, end of block -> 11; distance 0 -> 0.

/** A deflated data set: `before`, then `zeros` zero bytes, then `after`. */
function* deflatedRun(before: Buffer, zeros: number, after: Buffer): Generator<Buffer> {
  const w = new BitWriter();
  yield* storedBlock(w, before, false);
  dynamicHeader(w);
  w.code(0b10, 2); // one literal zero, for the matches to copy
  let left = zeros - 1;
  let matches = Math.floor(left / 258);
  left -= matches * 258;
  // Matches (two zero bits each) until the byte is full, then whole zero bytes of four matches.
  while (matches > 0 && !w.aligned) {
    w.bits(0, 2);
    matches -= 1;
  }
  yield w.take();
  const ZERO = Buffer.alloc(64 * 1024);
  for (let bytes = Math.floor(matches / 4); bytes > 0; bytes -= ZERO.length) yield bytes >= ZERO.length ? ZERO : ZERO.subarray(0, bytes);
  for (let m = matches % 4; m > 0; m--) w.bits(0, 2);
  for (; left > 0; left--) w.code(0b10, 2); // the rest as literal zeros
  w.code(0b11, 2); // end of block
  yield* storedBlock(w, after, true);
}

function element(tag: number, vr: string, value: Buffer, longLength = false): Buffer {
  const head = Buffer.alloc(longLength ? 12 : 8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.write(vr, 4, "latin1");
  if (longLength) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

const ui = (tag: number, uid: string) => element(tag, "UI", Buffer.from(uid.length % 2 ? `${uid}\0` : uid, "latin1"));

/**
 * An instance whose deflated data set inflates to `zeros` bytes of a private OB value (0009,1010)
 * between SOP Instance UID and Study Instance UID, and a few more after.
 */
export function deflateBombInstance(zeros: number): DeflateBomb {
  const uids = { studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() };
  // The File Meta of a real deflated instance with these UIDs; its data set is replaced.
  const template = buildInstance({ ...uids, transferSyntax: TS.deflatedExplicitVRLittleEndian, pixels: 2 });
  const meta = template.subarray(0, 144 + template.readUInt32LE(140));
  const obHead = Buffer.alloc(12);
  obHead.writeUInt16LE(0x0009, 0);
  obHead.writeUInt16LE(0x1010, 2);
  obHead.write("OB", 4, "latin1");
  obHead.writeUInt32LE(zeros, 8);
  const before = Buffer.concat([
    ui(0x00080016, CT_IMAGE_STORAGE),
    ui(0x00080018, uids.sopInstanceUid),
    element(0x00090010, "LO", Buffer.from("BOMBTEST", "latin1")),
    obHead,
  ]);
  const after = Buffer.concat([ui(0x0020000d, uids.studyUid), ui(0x0020000e, uids.seriesUid)]);
  let size = meta.length;
  for (const c of deflatedRun(before, zeros, after)) size += c.length;
  return {
    uids,
    size,
    inflatedSize: before.length + zeros + after.length,
    *chunks() {
      yield meta;
      yield* deflatedRun(before, zeros, after);
    },
  };
}
