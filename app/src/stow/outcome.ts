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
  /** Set when the request body itself could not be read to its end. */
  requestError?: { status: 400 | 413; message: string };
  parts: number;
  bytes: number;
  /** S3 was unavailable for an instance of this request (logged: the stack's S3-unavailable alarm counts it). */
  s3Unavailable?: boolean;
}

/** PS3.18 10.5.3: 200 all stored, 202 partly, 409 none (400/413 when the body itself was unusable). */
export function statusOf(result: StoreResult): 200 | 202 | 400 | 409 | 413 {
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
