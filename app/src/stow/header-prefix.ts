// The first step for each part: read just enough of it to know what instance it is.
import { readDicomHeader, type DicomHeader, type HeaderResult } from "../dicom/header.js";
import type { PartReader } from "./part-reader.js";

/** First header read attempt after this many bytes; then after 4x as many, and so on. */
const FIRST_HEADER_ATTEMPT = 16 * 1024;

/** The first bytes of a part, read until its DICOM header has an answer (or the part ends). */
export class HeaderPrefix {
  /** The bytes read, in the chunks they came in (joined into one whenever the header is read). */
  chunks: Buffer[] = [];
  bytes = 0;
  /** Whether the part ended within the prefix. */
  complete = false;
  header: HeaderResult = { kind: "more" };

  /**
   * Reads from the current part; a failure of the body (truncation, size limit) propagates.
   * `beforeGrowing` is awaited once, if the first attempt needs more bytes: holding more than the
   * first attempt's bytes needs a process slot (store-instances.ts).
   */
  async read(reader: PartReader, beforeGrowing?: () => Promise<void>): Promise<void> {
    let nextAttempt = FIRST_HEADER_ATTEMPT;
    for (;;) {
      const chunk = await reader.readBody();
      if (chunk === null) this.complete = true;
      else {
        this.chunks.push(chunk);
        this.bytes += chunk.length;
      }
      if (this.complete || this.bytes >= nextAttempt) {
        this.header = readDicomHeader(this.joined(), this.complete);
        nextAttempt = this.bytes * 4;
        if (this.header.kind !== "more" || this.complete) return;
        await beforeGrowing?.();
        beforeGrowing = undefined;
      }
    }
  }

  /** Whatever the bytes so far say about the instance: all of its UIDs, some, or none. */
  named(): Partial<DicomHeader> {
    const h = this.header.kind === "more" && this.bytes > 0 ? readDicomHeader(this.joined(), false) : this.header;
    return h.kind === "ok" ? h.header : h.kind === "invalid" ? h.partial : {};
  }

  private joined(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [this.chunks.length === 0 ? Buffer.alloc(0) : Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }
}
