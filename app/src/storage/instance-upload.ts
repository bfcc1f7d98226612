// One instance's way into S3: hashed on the way, sent in one PUT when it fits in one part and
// streamed as a multipart upload otherwise, then completed or aborted, so that nothing partial
// remains at its key. What is already at the key (duplicates, an object that landed despite an
// error, tags) is existing-object.ts's part.
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import type { Logger } from "pino";
import { ChunkedBody } from "./chunked-body.js";
import { conditionRefusal } from "./conditional-writes.js";
import { duplicateRule, ObjectAtKey, type Duplicate, type ExistingObject } from "./existing-object.js";
import { MultipartStream } from "./multipart-stream.js";
import { SHA256_METADATA } from "./s3-client.js";
import { describeS3Error, s3FailureOf } from "./s3-errors.js";
import type { SeriesListing } from "./series-listing.js";
import { UploadFailed, type StorageFailure } from "./storage-failure.js";
import type { UploadSettings } from "./upload-settings.js";

export type UploadResult =
  | {
      stored: true;
      key: string;
      bytes: number;
      sha256: string;
      duplicate: Duplicate;
      /** With duplicate "overwritten": what was at the key before (its sha256 unknown when it carried none). */
      replaced?: ExistingObject;
    }
  | { stored: false; key: string; failure: StorageFailure; message: string };

/** What belongs to the request an upload is part of. */
export interface UploadContext {
  log: Logger;
  /** Shared by the instances of one request, to spare HEADs for keys known to be free. */
  listing?: SeriesListing;
}

/** Conditional PUTs refused while no object could be found at the key (concurrent writers) before giving up. */
const MAX_CONDITIONAL_ROUNDS = 3;
/** First wait before writing again after a conflict (then twice as long each time, give or take half). */
const CONFLICT_BACKOFF_MS = 50;

/** Waits before writing again after a conflicting concurrent write: about 50, then 100 ms (plus or minus half). */
function conflictBackoff(round: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, CONFLICT_BACKOFF_MS * 2 ** round * (0.5 + Math.random())));
}

/** S3's encoding of a CRC32: the four bytes, big-endian, in base64. */
function crc32Base64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString("base64");
}

export class InstanceUpload {
  private readonly hash = createHash("sha256");
  private readonly metadata: Record<string, string>;
  private readonly atKey: ObjectAtKey;
  /** Whether a new object can be written with If-None-Match instead of a HEAD first. */
  private readonly conditional: boolean;
  // Until the instance outgrows one part it is only collected here, and then sent in one PUT
  // with everything known (sha256 included); a larger one is streamed as a multipart upload.
  private pending: Buffer[] = [];
  /** CRC32 of the pending bytes, for S3's checksum header (on Amazon S3 itself, see s3-target.ts). */
  private pendingCrc32 = 0;
  private multipart?: MultipartStream;
  private failure: unknown;
  private bytes = 0;
  private aborted = false;
  private released = false;
  /** The object the duplicate rules decided to replace. */
  private replaced?: ExistingObject;

  constructor(
    private readonly settings: UploadSettings,
    readonly key: string,
    metadata: { sopClassUid: string; transferSyntaxUid: string },
    private readonly context: UploadContext,
  ) {
    this.metadata = { "sop-class-uid": metadata.sopClassUid, "transfer-syntax-uid": metadata.transferSyntaxUid };
    settings.metrics.uploadsInFlight.inc();
    this.atKey = new ObjectAtKey(settings.storage, key, context.log, context.listing ? context.listing.presence(key) : Promise.resolve("ask"));
    this.conditional = settings.storage.conditionalWrites.usable();
    // Without conditional writes, look for an existing object while the instance streams in.
    if (!this.conditional) void this.atKey.lookUp();
  }

  /** Adds bytes to the object; waits while S3 is behind (backpressure). */
  async write(chunk: Buffer): Promise<void> {
    this.throwIfFailed();
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (this.multipart) {
      if (!(await this.multipart.write(chunk))) this.throwIfFailed();
      return;
    }
    this.pending.push(chunk);
    if (this.settings.storage.amazonS3) this.pendingCrc32 = crc32(chunk, this.pendingCrc32);
    // Until streaming starts, every byte so far is pending.
    if (this.bytes > this.settings.config.upload.partSizeBytes) this.startMultipart();
  }

  /** The instance is larger than one part: stream it as a multipart upload. */
  private startMultipart(): void {
    // Parts cannot be written conditionally: decide about duplicates by HEAD before completing.
    void this.atKey.lookUp();
    this.multipart = new MultipartStream(this.settings, this.key, this.metadata, this.pending, this.context.log);
    this.pending = [];
  }

  /** All bytes written: decide about duplicates, then complete (or abort) and report. */
  async finish(): Promise<UploadResult> {
    try {
      this.throwIfFailed();
      const sha256 = this.hash.digest("hex");
      this.metadata[SHA256_METADATA] = sha256;
      return this.multipart ? await this.finishMultipart(this.multipart, sha256) : await this.finishWhole(sha256);
    } catch (err) {
      await this.abort();
      if (err instanceof UploadFailed) return this.failed(err.failure, err.message);
      return this.failed(s3FailureOf(err), describeS3Error(err));
    } finally {
      this.release();
    }
  }

  /** The instance fits in one part: one PUT, conditional where the store supports it. */
  private async finishWhole(sha256: string): Promise<UploadResult> {
    const whole = this.pending.length === 1 ? this.pending[0]! : new ChunkedBody(this.pending, this.bytes);
    this.pending = [];
    const conditional = this.conditional && !(await this.atKey.listedAsPresent());
    for (let round = 0; round < MAX_CONDITIONAL_ROUNDS; round++) {
      const last = round === MAX_CONDITIONAL_ROUNDS - 1;
      if (conditional) {
        const written = await this.put(whole, sha256, true);
        // Another conditional write to the key is under way (409): what it leaves there decides, so
        // ask again once it had time to finish. Nothing is looked up meanwhile: S3 shows no object
        // until its write is complete, but S3-compatible stores may show it half-written.
        if (written === "conflict") {
          if (!last) await conflictBackoff(round);
          continue;
        }
        if (written !== "exists") return written;
      }
      // After a refusal something is at the key, whatever the listing said.
      const decision = await this.decide(sha256, this.atKey.lookUp(conditional));
      if (typeof decision !== "string") return decision;
      // A refused condition but nothing found: the object went away again.
      if (conditional && decision === "none") {
        if (!last) await conflictBackoff(round);
        continue;
      }
      // Without the condition nothing can be refused.
      return (await this.put(whole, sha256, false, decision)) as UploadResult;
    }
    return this.failed("write-conflict", "concurrent writes to the same key kept conflicting; send the instance again");
  }

  /**
   * The instance is streaming through a multipart upload: decide by HEAD before it is completed.
   * With nothing at the key, and a store that honours it, the completion carries If-None-Match
   * too, so that another writer completing first is not silently replaced.
   */
  private async finishMultipart(multipart: MultipartStream, sha256: string): Promise<UploadResult> {
    const decision = await this.decide(sha256, this.atKey.lookUp());
    if (typeof decision !== "string") {
      await this.abort();
      return decision;
    }
    if (decision === "none" && this.settings.storage.conditionalWrites.completionsUsable()) return this.completeIfNew(multipart, sha256);
    return this.complete(multipart, sha256, decision);
  }

  /** Completes without a condition (nothing can be refused). */
  private async complete(multipart: MultipartStream, sha256: string, decision: Duplicate): Promise<UploadResult> {
    return this.afterCompletion(multipart, await multipart.end(), sha256, decision) as Promise<UploadResult>;
  }

  /** Completes only if the key is still free; once refused, the duplicate rules decide, as for a single PUT. */
  private async completeIfNew(multipart: MultipartStream, sha256: string): Promise<UploadResult> {
    let refusal: "exists" | "conflict" | undefined;
    for (let round = 0; round < MAX_CONDITIONAL_ROUNDS; round++) {
      const last = round === MAX_CONDITIONAL_ROUNDS - 1;
      // After a 409 S3 has dropped our upload (its documentation says to upload the parts again,
      // which a stream cannot): only what the other write leaves at the key can still decide.
      if (refusal !== "conflict") {
        const outcome = await this.afterCompletion(multipart, await multipart.end(true), sha256, "none");
        if (typeof outcome !== "string") return outcome;
        refusal = outcome;
      }
      // Another conditional write to the key is under way: look once it had time to finish.
      if (refusal === "conflict") await conflictBackoff(round);
      const decision = await this.decide(sha256, this.lookAfterRefusal(sha256));
      if (typeof decision !== "string") {
        await this.abort();
        return decision;
      }
      if (decision === "overwritten") {
        // After a 412 the upload is still there on S3: replace what was written meanwhile, as if it
        // had been there before. (Should a store have dropped it, that completion fails, and nothing is reported stored.)
        if (refusal === "exists") return this.complete(multipart, sha256, decision);
        break;
      }
      // Refused, but nothing at the key: the other write went away again.
      if (refusal === "exists" && !last) await conflictBackoff(round);
    }
    await this.abort();
    return this.failed("write-conflict", "concurrent writes to the same key kept conflicting; send the instance again");
  }

  /**
   * What is at the key after a refused completion. A multipart object gets its hash tag only after
   * its completion (ours, whose answer was lost, or another writer's just now), so one of our size
   * without a hash is compared byte for byte rather than taken for different bytes.
   */
  private async lookAfterRefusal(sha256: string): Promise<ExistingObject | null> {
    const found = await this.atKey.lookUp(true);
    if (found && found.sha256 === undefined && found.size === this.bytes && (await this.atKey.holdsExactly(this.bytes, sha256))) return { ...found, sha256 };
    return found;
  }

  /** What a completion came to: stored (and tagged), failed (parts dropped), or refused by its condition. */
  private async afterCompletion(multipart: MultipartStream, outcome: Awaited<ReturnType<MultipartStream["end"]>>, sha256: string, decision: Duplicate): Promise<UploadResult | "exists" | "conflict"> {
    if (outcome === "exists" || outcome === "conflict") return outcome;
    if (outcome === "failed") {
      await multipart.dropParts();
      return this.afterFailedWrite(multipart.failure, sha256, decision);
    }
    await this.atKey.tagWithHash(sha256);
    return this.stored(sha256, decision);
  }

  /** The duplicate rules applied: an outcome already (identical, rejected, lookup failed), or how the write relates to the key. */
  private async decide(sha256: string, existing: Promise<ExistingObject | null>): Promise<UploadResult | "none" | "overwritten"> {
    let found: ExistingObject | null;
    try {
      found = await existing;
    } catch (err) {
      return this.failed(s3FailureOf(err), `checking for an existing object failed: ${describeS3Error(err)}`);
    }
    const rule = duplicateRule(found, this.bytes, sha256, this.settings.config.duplicatePolicy);
    if (rule === "overwritten" && found) this.replaced = found;
    // Identical bytes are already stored: acknowledge without writing them again.
    if (rule === "identical") return { stored: true, key: this.key, bytes: this.bytes, sha256, duplicate: "identical" };
    if (rule === "reject") return this.failed("duplicate-differs", "an instance with this SOP Instance UID and different content is already stored");
    return rule;
  }

  /** One PutObject of the whole instance; "exists" or "conflict" when the If-None-Match condition refused it. */
  private async put(whole: Buffer | ChunkedBody, sha256: string, ifNoneMatch: boolean, duplicate: Duplicate = "none"): Promise<UploadResult | "exists" | "conflict"> {
    const { putter, amazonS3 } = this.settings.storage;
    try {
      await putter.put({
        key: this.key,
        body: whole,
        sha256,
        metadata: this.metadata,
        ifNoneMatch,
        crc32: amazonS3 ? crc32Base64(this.pendingCrc32) : undefined,
      });
    } catch (err) {
      // A retry after a lost answer to our own write is refused too; the comparison then finds our bytes.
      const refusal = ifNoneMatch ? conditionRefusal(err) : undefined;
      if (refusal) return refusal;
      return this.afterFailedWrite(err, sha256, duplicate);
    }
    return this.stored(sha256, duplicate);
  }

  private async afterFailedWrite(err: unknown, sha256: string, duplicate: Duplicate): Promise<UploadResult> {
    this.failure ??= err;
    if (!(await this.atKey.holdsExactly(this.bytes, sha256))) {
      return this.failed(s3FailureOf(err), `S3 did not store the instance: ${describeS3Error(err)}`);
    }
    this.context.log.warn({ key: this.key, err: describeS3Error(err) }, "S3 reported an error, but the object at the key holds exactly these bytes");
    return this.stored(sha256, duplicate);
  }

  private stored(sha256: string, duplicate: Duplicate): UploadResult {
    this.settings.metrics.bytesStored.inc(this.bytes);
    return { stored: true, key: this.key, bytes: this.bytes, sha256, duplicate, ...(duplicate === "overwritten" ? { replaced: this.replaced } : {}) };
  }

  /** Gives up on this instance: nothing will be written at its key. */
  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    this.failure ??= new Error("upload aborted");
    this.pending = [];
    await this.multipart?.abort();
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.settings.metrics.uploadsInFlight.dec();
  }

  private throwIfFailed(): void {
    const failure = this.failure ?? this.multipart?.failure;
    if (failure !== undefined) throw new UploadFailed(s3FailureOf(failure), `S3 did not store the instance: ${describeS3Error(failure)}`);
  }

  private failed(failure: StorageFailure, message: string): UploadResult {
    return { stored: false, key: this.key, failure, message };
  }
}
