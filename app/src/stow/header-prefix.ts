// The first step for each part: read just enough of it to know what instance it is.
import { DeflatedDataset } from "../dicom/deflated-dataset.js";
import { readDicomHeader, type DicomHeader, type HeaderResult } from "../dicom/header.js";
import type { PartReader } from "./part-reader.js";

/** First header read attempt after this many bytes; then after 4x as many, and so on. */
const FIRST_HEADER_ATTEMPT = 16 * 1024;
/**
 * Compressed bytes collected before they go to the inflater: each write is a trip to zlib's
 * thread pool, which a sender trickling a byte at a time should not buy per byte.
 */
const INFLATE_STEP = 16 * 1024;

/** The first bytes of a part, read until its DICOM header has an answer (or the part ends). */
export class HeaderPrefix {
  /** The bytes read, in the chunks they came in (joined into one whenever the header is read). */
  chunks: Buffer[] = [];
  bytes = 0;
  /** Whether the part ended within the prefix. */
  complete = false;
  header: HeaderResult = { kind: "more" };
  /**
   * A deflated data set, inflated as its bytes arrive once the File Meta has said it is deflated;
   * attempts are then counted in inflated bytes. Dropped once the header has its answer.
   */
  private inflating: DeflatedDataset | undefined;
  /** Compressed bytes read but not yet given to the inflater. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /**
   * Reads from the current part; a failure of the body (truncation, size limit) propagates.
   * `beforeGrowing` is awaited once, if the first attempt needs more bytes: holding more than the
   * first attempt's bytes needs a process slot (store-instances.ts).
   */
  async read(reader: PartReader, beforeGrowing?: () => Promise<void>): Promise<void> {
    let nextAttempt = FIRST_HEADER_ATTEMPT;
    const grow = async () => {
      const once = beforeGrowing;
      beforeGrowing = undefined;
      await once?.();
    };
    try {
      for (;;) {
        const chunk = await reader.readBody();
        if (chunk === null) this.complete = true;
        else {
          this.chunks.push(chunk);
          this.bytes += chunk.length;
        }
        if (this.inflating) await this.inflate(chunk);
        if (this.complete || this.progress() >= nextAttempt || (this.inflating && !this.inflating.open)) {
          this.header = await this.readHeader(grow);
          nextAttempt = Math.max(this.progress() * 4, FIRST_HEADER_ATTEMPT);
          if (this.header.kind !== "more" || this.complete) break;
          await grow();
        }
      }
    } finally {
      this.inflating?.close();
    }
    // The answer is in: the inflated bytes are not needed again.
    this.inflating = undefined;
  }

  /** Whatever the bytes so far say about the instance: all of its UIDs, some, or none. */
  named(): Partial<DicomHeader> {
    const h = this.header.kind === "more" && this.bytes > 0 ? readDicomHeader(this.joined(), false, this.inflating?.view()) : this.header;
    return h.kind === "ok" ? h.header : h.kind === "invalid" ? h.partial : {};
  }

  /** Gives the inflater the compressed bytes collected, once there are enough of them or the part has ended. */
  private async inflate(chunk: Buffer | null): Promise<void> {
    const inflating = this.inflating!;
    if (chunk) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
    }
    if (chunk && this.pendingBytes < INFLATE_STEP) return;
    const input = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await inflating.write(input);
    if (!chunk) await inflating.end();
  }

  /** Bytes of the data set read so far: inflated ones once inflating. */
  private progress(): number {
    return this.inflating ? this.inflating.inflated : this.bytes;
  }

  private async readHeader(grow: () => Promise<void>): Promise<HeaderResult> {
    const prefix = this.joined();
    const read = readDicomHeader(prefix, this.complete, this.inflating?.view());
    if (read.kind !== "deflated") return read;
    // The File Meta is in and says the data set is deflated: inflate what has arrived, then what
    // arrives. Inflated bytes can outgrow the first attempt's at once, so first the slots.
    await grow();
    this.inflating = new DeflatedDataset();
    await this.inflating.write(prefix.subarray(read.datasetOffset));
    if (this.complete) await this.inflating.end();
    const again = readDicomHeader(prefix, this.complete, this.inflating.view());
    return again.kind === "deflated" ? { kind: "more" } : again;
  }

  private joined(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [this.chunks.length === 0 ? Buffer.alloc(0) : Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }
}
