// One very large instance produced on the fly: a real Part 10 header whose Pixel Data length is
// patched to the size asked for, followed by generated pixel chunks. Nothing of that size is ever
// held in memory; the sha256 is computed as the bytes are handed out. It is sent either as the one
// part of a multipart/related request or as a single-part application/dicom body.
import { createHash, randomBytes } from "node:crypto";
import { buildInstance, newUid } from "../../app/test/support/dicom.js";
import { expectedKey } from "../../app/test/support/key-layout.js";
import { multipartFrame } from "../../app/test/support/multipart.js";
import type { StowBody } from "../../app/test/support/stow-client.js";

const CHUNK = 256 * 1024;

export interface BigInstance {
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
  key: string;
  size: number;
  /** The instance's bytes, once; each call restarts the same sequence. */
  chunks(): AsyncGenerator<Buffer>;
  /** sha256 of the bytes produced by the last complete run of chunks(). */
  sha256(): string;
}

export function bigInstance(size: number): BigInstance {
  const studyUid = newUid();
  const seriesUid = newUid();
  const sopInstanceUid = newUid();
  // Explicit VR little endian: Pixel Data (7FE0,0010) OW is the last element, its 4-byte length last.
  const header = buildInstance({ studyUid, seriesUid, sopInstanceUid, pixels: Buffer.alloc(0) });
  if (header.readUInt32LE(header.length - 12) !== 0x00107fe0) throw new Error("unexpected header layout: Pixel Data is not the last element");
  const pixelBytes = size - header.length;
  if (pixelBytes < 0 || pixelBytes % 2 !== 0) throw new Error(`instance size ${size} must be even and larger than its ${header.length}-byte header`);
  header.writeUInt32LE(pixelBytes, header.length - 4);
  const pattern = randomBytes(CHUNK);
  let digest = "";

  async function* chunks(): AsyncGenerator<Buffer> {
    const hash = createHash("sha256");
    hash.update(header);
    yield header;
    let chunkIndex = 0;
    for (let left = pixelBytes; left > 0; left -= CHUNK, chunkIndex++) {
      // Each chunk differs (its index up front), so lost, doubled or reordered chunks change the hash.
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, left));
      pattern.copy(chunk, 0, 0, chunk.length);
      if (chunk.length >= 4) chunk.writeUInt32LE(chunkIndex, 0);
      hash.update(chunk);
      yield chunk;
    }
    digest = hash.digest("hex");
  }

  return {
    studyUid,
    seriesUid,
    sopInstanceUid,
    key: expectedKey({ studyUid, seriesUid, sopInstanceUid }),
    size,
    chunks,
    sha256: () => digest,
  };
}

/** How the instance is sent: as the one part of a multipart/related body, or as the whole body. */
export type BigInstanceForm = "multipart" | "single-part";

export const BIG_INSTANCE_FORMS: readonly BigInstanceForm[] = ["multipart", "single-part"];

/** The request body (streamed, of known length) and the headers that send the instance in `form`. */
export function bigInstanceRequest(big: BigInstance, form: BigInstanceForm, boundary: string): { body: StowBody; headers?: Record<string, string> } {
  if (form === "single-part") {
    return { body: { length: big.size, chunks: big.chunks() }, headers: { "Content-Type": "application/dicom", Accept: "application/dicom+json" } };
  }
  const { head, tail } = multipartFrame(boundary);
  async function* chunks() {
    yield head;
    yield* big.chunks();
    yield tail;
  }
  return { body: { length: head.length + big.size + tail.length, chunks: chunks() } };
}
