// Failure and warning reasons of the Store Instances Response (PS3.18 Annex I, PS3.4 Annex B),
// and the one place where the causes found below the STOW layer (DICOM header, storage) become them.
import type { HeaderProblem } from "../dicom/dicom-header.js";
import type { StorageFailure } from "../storage/storage-failure.js";

export const Reason = {
  /** Processing failure: any storage error that is not a lack of resources. */
  ProcessingFailure: 0x0110,
  /** Duplicate SOP instance with different bytes, rejected by DUPLICATE_POLICY=reject. */
  DuplicateSOPInstance: 0x0111,
  /** Refused, out of resources: S3 unavailable or throttling, size limits, service busy. */
  OutOfResources: 0xa700,
  /** Required UIDs missing or invalid. */
  DataSetDoesNotMatchSOPClass: 0xa900,
  /** The part is not a DICOM PS3.10 instance, or not of type application/dicom. */
  CannotUnderstand: 0xc000,
  /**
   * Implementation-specific: the instance's Study Instance UID differs from the one in the
   * request path of POST /studies/{StudyInstanceUID} (the code dcm4chee uses for this case).
   */
  StudyInstanceUIDMismatch: 0xc409,
} as const;

export type ReasonCode = (typeof Reason)[keyof typeof Reason];

const HEADER_REASONS: Record<HeaderProblem, ReasonCode> = {
  unreadable: Reason.CannotUnderstand,
  uids: Reason.DataSetDoesNotMatchSOPClass,
};

const STORAGE_REASONS: Record<StorageFailure, ReasonCode> = {
  "s3-unavailable": Reason.OutOfResources,
  "s3-error": Reason.ProcessingFailure,
  "duplicate-differs": Reason.DuplicateSOPInstance,
  "write-conflict": Reason.ProcessingFailure,
};

export function reasonForHeaderProblem(problem: HeaderProblem): ReasonCode {
  return HEADER_REASONS[problem];
}

export function reasonForStorageFailure(failure: StorageFailure): ReasonCode {
  return STORAGE_REASONS[failure];
}
