// A single-part request (Content-Type: application/dicom, as Microsoft's DICOM server, the Azure
// DICOM service and AWS HealthImaging take it) read as a body of exactly one part. The store
// transaction then treats its instance exactly like the one part of a multipart/related request:
// same header reading, limits, duplicate rules, statuses and answer. Chunks are handed on as they
// arrive, so memory does not grow with the size of the instance.
import type { PartHead, PartReader } from "./part-reader.js";

export class SinglePartReader implements PartReader {
  private state: "before" | "body" | "done" = "before";

  constructor(
    private readonly source: AsyncIterator<Uint8Array>,
    /** The request's Content-Type, given to the part (its parameters, e.g. transfer-syntax, are ignored downstream). */
    private readonly contentType: string,
  ) {}

  async nextPart(): Promise<PartHead | null> {
    if (this.state !== "before") {
      await this.skipBody();
      return null;
    }
    this.state = "body";
    return { index: 0, headers: new Map([["content-type", this.contentType]]) };
  }

  async readBody(): Promise<Buffer | null> {
    while (this.state === "body") {
      const r = await this.source.next();
      if (r.done) {
        this.state = "done";
        return null;
      }
      const v = r.value;
      if (v.byteLength) return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
    return null;
  }

  async skipBody(): Promise<void> {
    while ((await this.readBody()) !== null);
  }

  async drain(): Promise<void> {
    this.state = "done";
    while (!(await this.source.next()).done);
  }
}
