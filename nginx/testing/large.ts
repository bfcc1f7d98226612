// A STOW-RS body holding one instance of any size, generated while it is
// sent so the test never holds it in memory. The instance is a valid PS3.10
// file from the app's fixture builder with its pixel data stretched.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { buildInstance, newUid } from "../../app/test/support/dicom.js";
import { multipartFrame } from "../../app/test/support/multipart.js";

export interface LargeBody {
  stream: Readable;
  /** Bytes of the whole multipart body. */
  length: number;
  /** Bytes of the instance. */
  instanceBytes: number;
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
  /** sha256 of the instance, known once the stream has ended. */
  sha256(): string;
}

const CHUNK = 1 << 20;

export function largeStowBody(pixelBytes: number, boundary: string): LargeBody {
  if (pixelBytes % CHUNK !== 0) throw new Error("pixelBytes must be a whole number of MiB");
  const studyUid = newUid();
  const seriesUid = newUid();
  const sopInstanceUid = newUid();
  // Explicit VR little endian, OW pixel data last: its 32-bit length sits just before the value.
  const probe = buildInstance({ studyUid, seriesUid, sopInstanceUid, pixels: 2 });
  const head = Buffer.from(probe.subarray(0, probe.length - 2));
  head.writeUInt32LE(pixelBytes, head.length - 4);

  const { head: opening, tail: closing } = multipartFrame(boundary);
  const hash = createHash("sha256");
  let digest: string | undefined;

  function* chunks(): Generator<Buffer> {
    yield opening;
    hash.update(head);
    yield head;
    const base = Buffer.alloc(CHUNK);
    for (let i = 0; i < CHUNK; i += 1) base[i] = (i * 131 + 7) & 0xff;
    for (let n = 0; n < pixelBytes / CHUNK; n += 1) {
      const chunk = Buffer.from(base);
      chunk.writeUInt32LE(n, 0); // every MiB differs, so a reordered or repeated chunk shows
      hash.update(chunk);
      yield chunk;
    }
    digest = hash.digest("hex");
    yield closing;
  }

  return {
    stream: Readable.from(chunks(), { objectMode: false }),
    length: opening.length + head.length + pixelBytes + closing.length,
    instanceBytes: head.length + pixelBytes,
    studyUid,
    seriesUid,
    sopInstanceUid,
    sha256: () => {
      if (!digest) throw new Error("the body has not been sent completely");
      return digest;
    },
  };
}
