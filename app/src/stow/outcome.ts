import type { ReasonCode } from "./reasons.js";

/** What happened to one part that named an instance. */
export interface InstanceOutcome {
  sopClassUid?: string;
  sopInstanceUid: string;
  studyUid?: string;
  seriesUid?: string;
  stored: boolean;
  /** Failure reason when not stored. */
  reason?: ReasonCode;
  /** Warning reason when stored with a warning. */
  warning?: number;
  /** For logs and the Warning header; never patient data. */
  message?: string;
}

/** A part that could not be tied to an instance (OtherFailuresSequence). */
export interface OtherFailure {
  reason: ReasonCode;
  message: string;
}

export interface StoreResult {
  instances: InstanceOutcome[];
  otherFailures: OtherFailure[];
  /**
   * Set when the request body itself could not be read to its end (400, 413), arrived too slowly
   * (408), or the service had no slot for its first instance (503, nothing stored).
   */
  requestError?: { status: 400 | 408 | 413 | 503; message: string };
  /**
   * Set when a fault of the service itself broke the request off (its rest unread): the answer
   * still lists what was stored, and the fault is a processing failure (0x0110) among the others.
   */
  faulted?: boolean;
  parts: number;
  bytes: number;
  /** S3 was unavailable for an instance of this request (logged: the stack's S3-unavailable alarm counts it). */
  s3Unavailable?: boolean;
}

/**
 * PS3.18 10.5.3: 200 all stored, 202 partly, 409 none (400/413 when the body itself was unusable).
 * A body cut off for arriving too slowly is 408 whatever was stored before it (the answer lists
 * that), so that the client knows its request was not received whole.
 */
export function statusOf(result: StoreResult): 200 | 202 | 400 | 408 | 409 | 413 | 503 {
  if (result.requestError?.status === 408) return 408;
  const stored = result.instances.filter((i) => i.stored);
  const failures = result.instances.length - stored.length + result.otherFailures.length;
  const warnings = stored.some((i) => i.warning !== undefined);
  if (stored.length === 0) {
    if (result.requestError) return result.requestError.status;
    if (failures === 0) return 400;
    return 409;
  }
  return failures > 0 || warnings || result.requestError ? 202 : 200;
}
