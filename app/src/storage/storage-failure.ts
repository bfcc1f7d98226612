// Why the storage layer could not store an instance. The STOW layer turns these into the PS3.18
// failure reasons of its answer (stow/reasons.ts); storage itself knows nothing of PS3.18.

/**
 * - "s3-unavailable": S3 did not answer, throttled, or failed on its side (later instances would fare no better);
 * - "s3-error": S3 refused this request for a reason of its own (permissions, no such bucket, ...);
 * - "duplicate-differs": DUPLICATE_POLICY=reject and other bytes are already stored at the key;
 * - "write-conflict": concurrent writes to the same key kept conflicting.
 */
export type StorageFailure = "s3-unavailable" | "s3-error" | "duplicate-differs" | "write-conflict";

/** Thrown while an instance is still being written, once it can no longer be stored. */
export class UploadFailed extends Error {
  constructor(
    readonly failure: StorageFailure,
    message: string,
  ) {
    super(message);
    this.name = "UploadFailed";
  }
}
