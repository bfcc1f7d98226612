// An instance larger than one part, streamed into S3 as a lib-storage multipart upload, which
// this service completes or aborts itself so that nothing partial remains at the key.
import { PassThrough } from "node:stream";
import { AbortMultipartUploadCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Logger } from "pino";
import { describeS3Error } from "./s3-errors.js";
import type { UploadSettings } from "./upload-settings.js";

export class MultipartStream {
  // lib-storage collects parts itself: keep this buffer small.
  private readonly body = new PassThrough({ highWaterMark: 64 * 1024 });
  private readonly upload: Upload;
  private readonly requests = new RequestsInFlight();
  /** Settles when lib-storage has completed the upload or given up on it; never rejects. */
  readonly done: Promise<void>;
  /** Why the upload failed, once it has. */
  failure: unknown;

  /**
   * @param firstChunks the bytes so far (one part's worth), handed over at once
   * @param metadata read again by lib-storage when it sends the object, so a hash added meanwhile goes too
   */
  constructor(
    private readonly settings: UploadSettings,
    readonly key: string,
    metadata: Record<string, string>,
    firstChunks: Buffer[],
    private readonly log: Logger,
  ) {
    const { s3 } = settings;
    this.upload = new Upload({
      client: this.requests.tracking(s3.client),
      partSize: settings.partSizeBytes,
      queueSize: settings.partConcurrency,
      // The upload is aborted here, so that the first error is the one reported.
      leavePartsOnError: true,
      params: {
        Bucket: s3.bucket,
        Key: key,
        Body: this.body,
        ContentType: "application/dicom",
        Metadata: metadata,
        ...(s3.checksums ? { ChecksumAlgorithm: "CRC32" as const } : {}),
      },
    });
    this.done = this.upload.done().then(
      () => undefined,
      (err) => {
        this.failure ??= err;
        this.body.destroy();
      },
    );
    for (const chunk of firstChunks) this.body.write(chunk);
  }

  /** The id S3 gave the multipart upload, once it has been created. */
  get uploadId(): string | undefined {
    return this.upload.uploadId;
  }

  /** Hands bytes to the upload; waits while S3 is behind. Resolves false once the upload stopped taking bytes. */
  async write(chunk: Buffer): Promise<boolean> {
    const body = this.body;
    if (body.destroyed) return false;
    if (body.write(chunk)) return true;
    await new Promise<void>((resolve) => {
      // A destroyed body never emits "drain"; its "close" may already have been emitted.
      if (body.destroyed) return resolve();
      // If the upload dies, the body is destroyed and "close" wakes us instead of "drain".
      const wake = () => {
        body.off("drain", wake);
        body.off("close", wake);
        resolve();
      };
      body.on("drain", wake);
      body.on("close", wake);
    });
    if (!body.destroyed) return true;
    // lib-storage stops reading (and destroys the body) as soon as one part fails, but reports
    // the failure only once its other part uploads have ended: wait for that verdict.
    await this.done;
    this.failure ??= new Error("the upload stopped reading the instance's data");
    return false;
  }

  /** No more bytes: lets lib-storage complete the upload; resolves when it has, or has failed. */
  async end(): Promise<void> {
    this.body.end();
    await this.done;
  }

  /** Stops the upload and asks S3 to drop its parts. */
  async abort(): Promise<void> {
    this.failure ??= new Error("upload aborted");
    void this.upload.abort();
    this.body.destroy();
    await this.done;
    await this.dropParts();
  }

  /** After a failure or abort: no part may still be on its way when S3 is asked to drop them. */
  async dropParts(): Promise<void> {
    await this.requests.settled();
    const uploadId = this.upload.uploadId;
    if (!uploadId) return;
    this.settings.metrics.uploadAborts.inc();
    try {
      await this.settings.s3.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.s3.bucket, Key: this.key, UploadId: uploadId }));
    } catch (err) {
      // The parts are invisible (no object exists at the key); the bucket's lifecycle rule removes them.
      this.log.warn({ key: this.key, uploadId, err: describeS3Error(err) }, "AbortMultipartUpload failed; parts left to the lifecycle rule");
    }
  }
}

/**
 * The S3 requests one lib-storage upload makes, by way of the client it is given: lib-storage
 * reports a failed part while other parts may still be uploading, and has no public way to wait
 * for them.
 */
export class RequestsInFlight {
  private readonly pending = new Set<Promise<void>>();

  /** The client, with every send() counted until it settles. */
  tracking(client: S3Client): S3Client {
    const pending = this.pending;
    return new Proxy(client, {
      get(target, property, receiver) {
        if (property !== "send") return Reflect.get(target, property, receiver);
        return (...args: Parameters<S3Client["send"]>) => {
          const sent = (target.send as (...a: unknown[]) => Promise<unknown>)(...args);
          const settled = sent.then(
            () => undefined,
            () => undefined,
          );
          pending.add(settled);
          void settled.then(() => pending.delete(settled));
          return sent;
        };
      },
    });
  }

  /** Resolves once every request sent so far has settled. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all(this.pending);
  }
}
