// Test harness: a large PS3.10 instance as a stream, so that tests can send hundreds of MiB
// without holding them: a real header from buildInstance, then pixel data generated in pieces.
import { randomBytes } from "node:crypto";
import { buildInstance, type InstanceOptions } from "./dicom.js";
import { TS } from "./transfer-syntaxes.js";

const PIECE = 1024 * 1024;

export interface LargeInstance {
  /** Bytes of the whole part body (header + pixel data). */
  length: number;
  /** The bytes from `start`, in pieces of at most 1 MiB; the same bytes on every call. */
  pieces(start?: number): Generator<Buffer>;
}

/** An explicit VR little endian instance whose OW pixel data is `pixelBytes` long (even). */
export function largeInstance(opts: InstanceOptions, pixelBytes: number): LargeInstance {
  if (pixelBytes % 2 !== 0) throw new Error("pixel data length must be even");
  // The header as buildInstance writes it with no pixels; its last 4 bytes are the OW length.
  const header = buildInstance({ ...opts, transferSyntax: TS.explicitVRLittleEndian, pixels: Buffer.alloc(0) });
  header.writeUInt32LE(pixelBytes, header.length - 4);
  const pattern = randomBytes(PIECE);
  const length = header.length + pixelBytes;
  return {
    length,
    *pieces(start = 0) {
      let at = start;
      while (at < length) {
        if (at < header.length) {
          yield header.subarray(at);
          at = header.length;
          continue;
        }
        const offset = (at - header.length) % PIECE;
        const n = Math.min(PIECE - offset, length - at);
        yield pattern.subarray(offset, offset + n);
        at += n;
      }
    },
  };
}
