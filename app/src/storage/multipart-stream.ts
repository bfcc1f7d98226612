// An instance larger than one part, streamed into S3 as a multipart upload that this service
// completes or aborts itself, so that nothing partial remains at the key.
//
// The bytes are copied once, into part buffers that are used again as soon as S3 has taken
// their part: UPLOAD_PART_CONCURRENCY parts on their way and one filling, whatever the size of
// the instance. (lib-storage, used before, concatenated every part into a fresh buffer; those
// outlived the young generation, and V8 collects such external memory only once some 64 MiB of
// it has built up, which put a 1 GiB instance over its memory budget.)
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
} from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { conditionRefusal } from "./conditional-writes.js";
import { describeS3Error } from "./s3-errors.js";
import type { UploadSettings } from "./upload-settings.js";
import { collectYoungGarbage } from "./young-garbage.js";

export class MultipartStream {
  private readonly created: Promise<string | undefined>;
  /** Part buffers not in use; at most UPLOAD_PART_CONCURRENCY + 1 are ever made. */
  private readonly free: Buffer[] = [];
  private made = 0;
  private filling?: Buffer;
  private filled = 0;
  private partNumber = 0;
  private readonly parts: CompletedPart[] = [];
  /** S3 requests under way (the creation and the part uploads), each settling without rejecting. */
  private readonly requests = new Set<Promise<void>>();
  /** Wakes a writer waiting for a part buffer (a part was taken by S3, or the upload failed). */
  private wake?: () => void;
  private dropped = false;
  /** The last part has been sent (end() was called). */
  private ended = false;
  /** The id S3 gave the multipart upload, once it has been created. */
  uploadId?: string;
  /** Why the upload failed, once it has. */
  failure: unknown;

  /**
   * @param firstChunks the bytes so far (more than one part's worth), handed over at once
   * @param metadata fixed when the upload is created (S3 does not take metadata later)
   */
  constructor(
    private readonly settings: UploadSettings,
    readonly key: string,
    metadata: Record<string, string>,
    firstChunks: Buffer[],
    private readonly log: Logger,
  ) {
    const { client, bucket, amazonS3 } = settings.storage;
    this.created = this.track(
      client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: "application/dicom", Metadata: { ...metadata }, ...checksumParams(amazonS3) })),
    ).then(
      (created) => (this.uploadId = created.UploadId),
      (err) => {
        this.fail(err);
        return undefined;
      },
    );
    // Two buffers are always there for the first part and the start of the second.
    for (const chunk of firstChunks) for (let offset = 0; offset < chunk.length; ) offset = this.copy(chunk, offset);
  }

  /** Adds bytes; waits while all part buffers are on their way to S3. Resolves false once the upload has failed. */
  async write(chunk: Buffer): Promise<boolean> {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.failure !== undefined) return false;
      if (!this.filling && !(await this.nextBuffer())) return false;
      offset = this.copy(chunk, offset);
    }
    return this.failure === undefined;
  }

  /**
   * No more bytes: sends the last part, then completes the upload once every part is in. With
   * `ifNoneMatch`, only if no object is at the key (If-None-Match: *). Resolves "completed", or
   * "failed" (see `failure`), or why the condition refused it: "exists" (412; the upload is still
   * there and may be completed again or aborted) or "conflict" (409; on S3 the upload is gone).
   */
  async end(ifNoneMatch = false): Promise<"completed" | "failed" | "exists" | "conflict"> {
    if (!this.ended) {
      this.ended = true;
      if (this.failure === undefined && this.filled > 0) this.sendPart();
    }
    await this.settled();
    const uploadId = await this.created;
    if (this.failure !== undefined || !uploadId) return "failed";
    const { client, bucket } = this.settings.storage;
    const parts = [...this.parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
    try {
      await client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: this.key, UploadId: uploadId, MultipartUpload: { Parts: parts }, ...(ifNoneMatch ? { IfNoneMatch: "*" } : {}) }),
      );
      return "completed";
    } catch (err) {
      const refusal = ifNoneMatch ? conditionRefusal(err) : undefined;
      if (refusal) return refusal;
      this.fail(err);
      return "failed";
    }
  }

  /** Stops the upload and asks S3 to drop its parts. */
  async abort(): Promise<void> {
    this.fail(new Error("upload aborted"));
    await this.dropParts();
  }

  /** After a failure or abort (once): no part may still be on its way when S3 is asked to drop them. */
  async dropParts(): Promise<void> {
    if (this.dropped) return;
    this.dropped = true;
    await this.settled();
    const uploadId = await this.created;
    if (!uploadId) return;
    this.settings.metrics.uploadAborts.inc();
    try {
      await this.settings.storage.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.storage.bucket, Key: this.key, UploadId: uploadId }));
    } catch (err) {
      // The parts are invisible (no object exists at the key); the bucket's lifecycle rule removes them.
      this.log.warn({ key: this.key, uploadId, err: describeS3Error(err) }, "AbortMultipartUpload failed; parts left to the lifecycle rule");
    }
  }

  /** Copies from `offset` into the part being filled (a buffer must be at hand); sends it when full. Returns the new offset. */
  private copy(chunk: Buffer, offset: number): number {
    this.filling ??= this.takeBuffer();
    const copied = chunk.copy(this.filling!, this.filled, offset);
    this.filled += copied;
    if (this.filled === this.settings.config.upload.partSizeBytes) this.sendPart();
    return offset + copied;
  }

  private takeBuffer(): Buffer | undefined {
    const reused = this.free.pop();
    if (reused) return reused;
    if (this.made > this.settings.config.upload.partConcurrency) return undefined;
    this.made += 1;
    return Buffer.allocUnsafeSlow(this.settings.config.upload.partSizeBytes);
  }

  /** Waits until a part buffer is free (or the upload failed); true when one is being filled. */
  private async nextBuffer(): Promise<boolean> {
    for (;;) {
      if (this.failure !== undefined) return false;
      this.filling = this.takeBuffer();
      if (this.filling) return true;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private sendPart(): void {
    // The socket buffers this part was copied from are dead: give their memory back now (see young-garbage.ts).
    collectYoungGarbage();
    const buffer = this.filling!;
    const length = this.filled;
    const partNumber = ++this.partNumber;
    this.filling = undefined;
    this.filled = 0;
    void this.track(this.uploadPart(partNumber, buffer.subarray(0, length))).finally(() => {
      // S3 has the part, or the upload failed and it is not needed: the buffer can be filled again.
      this.free.push(buffer);
      this.wakeWriter();
    });
  }

  private async uploadPart(partNumber: number, body: Buffer): Promise<void> {
    const uploadId = await this.created;
    if (!uploadId || this.failure !== undefined) return;
    const { client, bucket, amazonS3 } = this.settings.storage;
    try {
      const uploaded = await client.send(
        new UploadPartCommand({ Bucket: bucket, Key: this.key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length, ...checksumParams(amazonS3) }),
      );
      if (!uploaded.ETag) throw new Error(`S3 gave no ETag for part ${partNumber}`);
      this.parts.push({ PartNumber: partNumber, ETag: uploaded.ETag, ...(uploaded.ChecksumCRC32 ? { ChecksumCRC32: uploaded.ChecksumCRC32 } : {}) });
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    this.wakeWriter();
  }

  private wakeWriter(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Counts a request until it settles; the promise returned still rejects as the request did. */
  private track<T>(request: Promise<T>): Promise<T> {
    const settled = request.then(
      () => undefined,
      () => undefined,
    );
    this.requests.add(settled);
    void settled.then(() => this.requests.delete(settled));
    return request;
  }

  /** Resolves once every request sent so far has settled. */
  private async settled(): Promise<void> {
    while (this.requests.size) await Promise.all(this.requests);
  }
}

/** S3 checksums (Amazon S3 itself): CRC32 of every part, computed by the SDK, and of the whole as a composite. */
function checksumParams(checksums: boolean): { ChecksumAlgorithm?: "CRC32" } {
  return checksums ? { ChecksumAlgorithm: "CRC32" } : {};
}
