// What the store transaction reads a request through: the parts of a multipart/related body
// (multipart/reader.ts), or the one instance of a single-part application/dicom body
// (single-part-reader.ts).
import type { PartHead } from "../multipart/reader.js";

export type { PartHead };

export interface PartReader {
  /** Moves to the next part (skipping what is left of the current one); null when there is none. */
  nextPart(): Promise<PartHead | null>;
  /** Next chunk of the current part's data; null at the end of the part. */
  readBody(): Promise<Buffer | null>;
  /** Reads and discards the rest of the current part. */
  skipBody(): Promise<void>;
  /** Reads and discards whatever is left of the request body. */
  drain(): Promise<void>;
}
