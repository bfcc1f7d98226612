// One instance's journey into S3: hashed on the way, sent in one PUT when it fits in one part and
// streamed through a lib-storage multipart upload otherwise, checked against an existing object at
// the same key, and either completed or aborted so that nothing partial remains.
import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import { crc32 } from "node:zlib";
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Logger } from "pino";
import type { DuplicatePolicy } from "../config.js";
import type { Metrics } from "../metrics.js";
import { Reason, type ReasonCode } from "../stow/reasons.js";
import { ChunkedBody } from "./chunked-body.js";
import { isConditionRefused } from "./conditional-writes.js";
import { SHA256_METADATA } from "./s3-client.js";
import type { KeyPresence, SeriesListing } from "./series-listing.js";
import { describeS3Error, isNotFound, isS3Unavailable, reasonForS3Error } from "./s3-errors.js";

export interface UploadSettings {
  client: S3Client;
  bucket: string;
  partSizeBytes: number;
  partConcurrency: number;
  duplicatePolicy: DuplicatePolicy;
  checksums: boolean;
  metrics: Metrics;
  log: Logger;
  /** Shared by the instances of one request, to spare HEADs for keys known to be free. */
  listing?: SeriesListing;
  /** Whether the store honours If-None-Match on PutObject (see conditional-writes.ts). */
  conditionalWrites?: { usable(): boolean };
}

export type UploadResult =
  | { stored: true; key: string; bytes: number; sha256: string; duplicate: "none" | "identical" | "overwritten" }
  | { stored: false; key: string; reason: ReasonCode; message: string };

interface ExistingObject {
  size: number;
  sha256?: string;
}

/** Metadata key (single PUT) and tag key (multipart upload) holding the hex SHA-256. */
const SHA256_TAG = SHA256_METADATA;
/** How long to look for an object that S3 may have stored despite an error (it is read back in full). */
const LANDED_CHECK_TIMEOUT_MS = 120_000;
/** Conditional PUTs refused while no object could be found at the key (concurrent writers) before giving up. */
const MAX_CONDITIONAL_ROUNDS = 3;

type Duplicate = "none" | "identical" | "overwritten";

/** S3's encoding of a CRC32: the four bytes, big-endian, in base64. */
function crc32Base64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString("base64");
}

/** Thrown by write() once the upload can no longer succeed. */
export class UploadFailed extends Error {
  constructor(
    readonly reason: ReasonCode,
    message: string,
  ) {
    super(message);
    this.name = "UploadFailed";
  }
}

export class InstanceUpload {
  readonly key: string;
  private readonly hash = createHash("sha256");
  private readonly metadata: Record<string, string>;
  // Until the instance outgrows one part it is only collected here, and then sent in one PUT
  // with everything known (sha256 included); a larger one is streamed through lib-storage.
  private pending: Buffer[] = [];
  /** CRC32 of the pending bytes, for S3's checksum header (where checksums are on). */
  private pendingCrc32 = 0;
  private body?: PassThrough;
  private upload?: Upload;
  private done: Promise<void> = Promise.resolve();
  private existing?: Promise<ExistingObject | null>;
  private readonly presence: Promise<KeyPresence>;
  private readonly conditional: boolean;
  private failure: unknown;
  private aborted = false;
  private released = false;
  private bytes = 0;

  constructor(
    private readonly settings: UploadSettings,
    key: string,
    metadata: { sopClassUid: string; transferSyntaxUid: string },
  ) {
    this.key = key;
    this.metadata = { "sop-class-uid": metadata.sopClassUid, "transfer-syntax-uid": metadata.transferSyntaxUid };
    settings.metrics.uploadsInFlight.inc();
    this.presence = settings.listing ? settings.listing.presence(key) : Promise.resolve("ask");
    this.conditional = settings.conditionalWrites?.usable() ?? false;
    // Without conditional writes, look for an existing object while the instance streams in.
    if (!this.conditional) this.checkExisting();
  }

  /** What is stored at the key (asked once, unless asked afresh). */
  private checkExisting(afresh = false): Promise<ExistingObject | null> {
    if (!this.existing || afresh) {
      this.existing = this.headExisting(!afresh);
      // A HEAD failure surfaces where the result is awaited; don't let it go unhandled meanwhile.
      this.existing.catch(() => undefined);
    }
    return this.existing;
  }

  /** Adds bytes to the object; waits while S3 is behind (backpressure). */
  async write(chunk: Buffer): Promise<void> {
    this.throwIfFailed();
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (!this.body) {
      this.pending.push(chunk);
      if (this.settings.checksums) this.pendingCrc32 = crc32(chunk, this.pendingCrc32);
      // Until streaming starts, every byte so far is pending.
      if (this.bytes <= this.settings.partSizeBytes) return;
      this.startStreaming();
      return;
    }
    const body = this.body;
    if (!body.write(chunk)) {
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
      if (body.destroyed) {
        // lib-storage stops reading (and destroys the body) as soon as one part fails, but
        // reports the failure only once its other part uploads have ended: wait for that verdict.
        await this.done;
        this.failure ??= new Error("the upload stopped reading the instance's data");
      }
      this.throwIfFailed();
    }
  }

  /** The instance is larger than one part: hand it to lib-storage as a stream (multipart upload). */
  private startStreaming(): void {
    // highWaterMark: lib-storage collects parts itself; keep our own buffer small.
    const body = new PassThrough({ highWaterMark: 64 * 1024 });
    this.body = body;
    // lib-storage completes a multipart upload without a condition: decide about duplicates by HEAD.
    this.checkExisting();
    this.startUpload(body);
    for (const chunk of this.pending) body.write(chunk);
    this.pending = [];
  }

  private startUpload(body: PassThrough): void {
    const upload = new Upload({
      client: this.settings.client,
      partSize: this.settings.partSizeBytes,
      queueSize: this.settings.partConcurrency,
      // We abort the multipart upload ourselves, so that the first error is the one reported.
      leavePartsOnError: true,
      params: {
        Bucket: this.settings.bucket,
        Key: this.key,
        Body: body,
        ContentType: "application/dicom",
        // Read again if lib-storage ends up sending a single PUT (after the last byte).
        Metadata: this.metadata,
        ...(this.settings.checksums ? { ChecksumAlgorithm: "CRC32" as const } : {}),
      },
    });
    this.upload = upload;
    this.done = upload.done().then(
      () => undefined,
      (err) => {
        this.failure ??= err;
        this.body?.destroy();
      },
    );
  }

  /** All bytes written: decide about duplicates, then complete (or abort) and report. */
  async finish(): Promise<UploadResult> {
    try {
      this.throwIfFailed();
      const sha256 = this.hash.digest("hex");
      this.metadata[SHA256_TAG] = sha256;
      return this.body ? await this.finishStreamed(sha256) : await this.finishWhole(sha256);
    } catch (err) {
      if (err instanceof UploadFailed) return this.failed(err.reason, err.message);
      await this.abort();
      return this.failed(reasonForS3Error(err), describeS3Error(err));
    } finally {
      this.release();
    }
  }

  /** The instance fits in one part: one PUT, conditional where the store supports it. */
  private async finishWhole(sha256: string): Promise<UploadResult> {
    const whole = this.pending.length === 1 ? this.pending[0] : new ChunkedBody(this.pending, this.bytes);
    this.pending = [];
    const conditional = this.conditional && (await this.presence) !== "present";
    for (let round = 0; round < MAX_CONDITIONAL_ROUNDS; round++) {
      if (conditional) {
        const written = await this.put(whole, sha256, true);
        if (written !== "refused") return written;
      }
      // After a refusal something is at the key (or being written there), whatever the listing said.
      const decision = await this.decide(sha256, this.checkExisting(conditional));
      if ("stored" in decision) return decision;
      // A refused condition but nothing found: another writer's upload has not finished, or its object went away.
      if (conditional && decision.duplicate === "none") continue;
      // Without the condition nothing can be refused.
      return (await this.put(whole, sha256, false, decision.duplicate)) as UploadResult;
    }
    return this.failed(Reason.ProcessingFailure, "concurrent writes to the same key kept conflicting; send the instance again");
  }

  /** The instance is streaming through a multipart upload: decide before it is completed. */
  private async finishStreamed(sha256: string): Promise<UploadResult> {
    const decision = await this.decide(sha256, this.checkExisting());
    if ("stored" in decision) {
      await this.abort();
      return decision;
    }
    this.body!.end();
    await this.done;
    if (this.failure !== undefined) {
      await this.cleanUp();
      return this.afterFailedWrite(sha256, decision.duplicate);
    }
    if (this.upload?.uploadId) await this.tagMultipartObject(sha256);
    return this.stored(sha256, decision.duplicate);
  }

  /** The duplicate rules: an outcome already (identical, rejected, HEAD failed), or how to write. */
  private async decide(sha256: string, existingObject: Promise<ExistingObject | null>): Promise<UploadResult | { duplicate: Duplicate }> {
    let existing: ExistingObject | null;
    try {
      existing = await existingObject;
    } catch (err) {
      return this.failed(reasonForS3Error(err), `checking for an existing object failed: ${describeS3Error(err)}`);
    }
    if (!existing) return { duplicate: "none" };
    if (existing.size === this.bytes && existing.sha256 === sha256) {
      // Identical bytes are already stored: acknowledge without writing them again.
      return { stored: true, key: this.key, bytes: this.bytes, sha256, duplicate: "identical" };
    }
    if (this.settings.duplicatePolicy === "reject") {
      return this.failed(Reason.DuplicateSOPInstance, "an instance with this SOP Instance UID and different content is already stored");
    }
    return { duplicate: "overwritten" };
  }

  /** One PutObject of the whole instance. "refused": the If-None-Match condition did not hold. */
  private async put(whole: Buffer | ChunkedBody, sha256: string, ifNoneMatch: boolean, duplicate: Duplicate = "none"): Promise<UploadResult | "refused"> {
    const { client, bucket, checksums } = this.settings;
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: this.key,
          // The SDK never reads a ChunkedBody: length, SHA-256 (Metadata) and CRC32 are all given.
          Body: whole as Buffer,
          ContentLength: whole.byteLength,
          ContentType: "application/dicom",
          Metadata: this.metadata,
          ...(ifNoneMatch ? { IfNoneMatch: "*" } : {}),
          ...(checksums ? { ChecksumAlgorithm: "CRC32" as const, ChecksumCRC32: crc32Base64(this.pendingCrc32) } : {}),
        }),
      );
    } catch (err) {
      // A retry after a lost answer to our own write is refused too; the comparison then finds our bytes.
      if (ifNoneMatch && isConditionRefused(err)) return "refused";
      this.failure ??= err;
      return this.afterFailedWrite(sha256, duplicate);
    }
    return this.stored(sha256, duplicate);
  }

  private async afterFailedWrite(sha256: string, duplicate: Duplicate): Promise<UploadResult> {
    if (!(await this.landedAnyway(sha256))) {
      return this.failed(reasonForS3Error(this.failure), `S3 did not store the instance: ${describeS3Error(this.failure)}`);
    }
    this.settings.log.warn({ key: this.key, err: describeS3Error(this.failure) }, "S3 reported an error, but the object at the key holds exactly these bytes");
    return this.stored(sha256, duplicate);
  }

  private stored(sha256: string, duplicate: Duplicate): UploadResult {
    this.settings.metrics.bytesStored.inc(this.bytes);
    return { stored: true, key: this.key, bytes: this.bytes, sha256, duplicate };
  }

  /** Gives up on this instance: nothing will be written at its key. */
  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    this.failure ??= new Error("upload aborted");
    this.pending = [];
    void this.upload?.abort();
    this.body?.destroy();
    await this.done;
    await this.cleanUp();
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.settings.metrics.uploadsInFlight.dec();
  }

  private async cleanUp(): Promise<void> {
    if (!this.upload) return;
    // Let lib-storage's part uploaders stop before asking S3 to drop the parts they sent.
    await Promise.allSettled((this.upload as unknown as { concurrentUploaders: Promise<void>[] }).concurrentUploaders ?? []);
    const uploadId = this.upload.uploadId;
    if (!uploadId) return;
    this.settings.metrics.uploadAborts.inc();
    try {
      await this.settings.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: this.key, UploadId: uploadId }));
    } catch (err) {
      // The parts are invisible (no object exists at the key); the bucket's lifecycle rule removes them.
      this.settings.log.warn({ key: this.key, uploadId, err: describeS3Error(err) }, "AbortMultipartUpload failed; parts left to the lifecycle rule");
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) {
      throw new UploadFailed(reasonForS3Error(this.failure), `S3 did not store the instance: ${describeS3Error(this.failure)}`);
    }
  }

  private failed(reason: ReasonCode, message: string): UploadResult {
    return { stored: false, key: this.key, reason, message };
  }

  private async headExisting(trustListing: boolean): Promise<ExistingObject | null> {
    const { client, bucket } = this.settings;
    if (trustListing && (await this.presence) === "absent") return null;
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: this.key }));
      let sha256 = head.Metadata?.[SHA256_TAG];
      if (!sha256) {
        // Multipart objects carry their hash as a tag: metadata is fixed before the last byte is seen.
        const tags = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: this.key })).catch(() => undefined);
        sha256 = tags?.TagSet?.find((t) => t.Key === SHA256_TAG)?.Value;
      }
      return { size: head.ContentLength ?? -1, sha256 };
    } catch (err) {
      if (isNotFound(err)) return null;
      if (isS3Unavailable(err)) throw err;
      // e.g. 403 without s3:GetObject: cannot compare, so behave as for a new instance.
      this.settings.log.warn({ key: this.key, err: describeS3Error(err) }, "HEAD of the target key failed; treating the instance as new");
      return null;
    }
  }

  /**
   * S3 may carry out a request whose answer never arrives; the retry then fails (a completed
   * multipart upload no longer exists: NoSuchUpload). Only an object with exactly these bytes
   * counts as stored; anything else, or no answer, is a failure as reported.
   */
  private async landedAnyway(sha256: string): Promise<boolean> {
    const { client, bucket } = this.settings;
    const abortSignal = AbortSignal.timeout(LANDED_CHECK_TIMEOUT_MS);
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: this.key }), { abortSignal });
      if (head.ContentLength !== this.bytes) return false;
      if (head.Metadata?.[SHA256_TAG] === sha256) return true;
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: this.key }), { abortSignal });
      const hash = createHash("sha256");
      for await (const chunk of object.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
      return hash.digest("hex") === sha256;
    } catch {
      return false;
    }
  }

  private async tagMultipartObject(sha256: string): Promise<void> {
    try {
      await this.settings.client.send(
        new PutObjectTaggingCommand({ Bucket: this.settings.bucket, Key: this.key, Tagging: { TagSet: [{ Key: SHA256_TAG, Value: sha256 }] } }),
      );
    } catch (err) {
      // The instance is stored byte-exact; only the duplicate check loses its shortcut.
      this.settings.log.warn({ key: this.key, err: describeS3Error(err) }, "could not tag the object with its sha256");
    }
  }
}
