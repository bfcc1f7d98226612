// What is already at an instance's key: the object a duplicate is compared with, the check that
// an object S3 may have stored despite an error holds exactly our bytes, and the sha256 tag of
// multipart objects (whose metadata is fixed before their last byte is seen).
import { createHash } from "node:crypto";
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, PutObjectTaggingCommand } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import type { DuplicatePolicy } from "../config.js";
import { SHA256_METADATA } from "./s3-client.js";
import { describeS3Error, isNotFound, isS3Unavailable } from "./s3-errors.js";
import type { S3Target } from "./s3-target.js";
import type { KeyPresence } from "./series-listing.js";

export interface ExistingObject {
  size: number;
  sha256?: string;
}

/** How an instance relates to what was at its key: nothing, the same bytes, or other bytes it replaces. */
export type Duplicate = "none" | "identical" | "overwritten";

/** Metadata key (single PUT) and tag key (multipart upload) holding the hex SHA-256. */
const SHA256_TAG = SHA256_METADATA;
/** How long to look for an object that S3 may have stored despite an error (it is read back in full). */
const LANDED_CHECK_TIMEOUT_MS = 120_000;

/**
 * The duplicate rules: identical bytes are already stored (nothing to write); other bytes are
 * replaced, or, with DUPLICATE_POLICY=reject, refused.
 */
export function duplicateRule(existing: ExistingObject | null, bytes: number, sha256: string, policy: DuplicatePolicy): Duplicate | "reject" {
  if (!existing) return "none";
  if (existing.size === bytes && existing.sha256 === sha256) return "identical";
  return policy === "reject" ? "reject" : "overwritten";
}

export class ObjectAtKey {
  private existing?: Promise<ExistingObject | null>;

  constructor(
    private readonly s3: S3Target,
    readonly key: string,
    private readonly log: Logger,
    /** What a listing of the series says (see series-listing.ts); "ask" means HEAD. */
    private readonly presence: Promise<KeyPresence>,
  ) {}

  /** Whether a listing found an object at the key (so a conditional write would be refused). */
  async listedAsPresent(): Promise<boolean> {
    return (await this.presence) === "present";
  }

  /**
   * What is stored at the key: asked once (a HEAD, unless a listing says the key is free), or asked
   * afresh after a conditional write was refused, whatever the listing said.
   */
  lookUp(afresh = false): Promise<ExistingObject | null> {
    if (!this.existing || afresh) {
      this.existing = this.head(!afresh);
      // A HEAD failure surfaces where the result is awaited; don't let it go unhandled meanwhile.
      this.existing.catch(() => undefined);
    }
    return this.existing;
  }

  private async head(trustListing: boolean): Promise<ExistingObject | null> {
    const { client, bucket } = this.s3;
    if (trustListing && (await this.presence) === "absent") return null;
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: this.key }));
      let sha256 = head.Metadata?.[SHA256_METADATA];
      if (!sha256) {
        // Multipart objects carry their hash as a tag.
        const tags = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: this.key })).catch(() => undefined);
        sha256 = tags?.TagSet?.find((t) => t.Key === SHA256_TAG)?.Value;
      }
      return { size: head.ContentLength ?? -1, sha256 };
    } catch (err) {
      if (isNotFound(err)) return null;
      if (isS3Unavailable(err)) throw err;
      // e.g. 403 without s3:GetObject: cannot compare, so behave as for a new instance.
      this.log.warn({ key: this.key, err: describeS3Error(err) }, "HEAD of the target key failed; treating the instance as new");
      return null;
    }
  }

  /**
   * S3 may carry out a request whose answer never arrives; the retry then fails (a completed
   * multipart upload no longer exists: NoSuchUpload). Only an object with exactly these bytes
   * counts as stored; anything else, or no answer, is a failure as reported.
   */
  async holdsExactly(bytes: number, sha256: string): Promise<boolean> {
    const { client, bucket } = this.s3;
    const abortSignal = AbortSignal.timeout(LANDED_CHECK_TIMEOUT_MS);
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: this.key }), { abortSignal });
      if (head.ContentLength !== bytes) return false;
      if (head.Metadata?.[SHA256_METADATA] === sha256) return true;
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: this.key }), { abortSignal });
      const hash = createHash("sha256");
      for await (const chunk of object.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
      return hash.digest("hex") === sha256;
    } catch {
      return false;
    }
  }

  /** A completed multipart object gets its hash as a tag (its metadata was fixed before the last byte). */
  async tagWithHash(sha256: string): Promise<void> {
    try {
      await this.s3.client.send(new PutObjectTaggingCommand({ Bucket: this.s3.bucket, Key: this.key, Tagging: { TagSet: [{ Key: SHA256_TAG, Value: sha256 }] } }));
    } catch (err) {
      // The instance is stored byte-exact; only the duplicate check loses its shortcut.
      this.log.warn({ key: this.key, err: describeS3Error(err) }, "could not tag the object with its sha256");
    }
  }
}
