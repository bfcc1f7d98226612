// What the header readers answer (header.ts, fast-header.ts), in a file of its own so that
// neither reader imports the other for its types.

/** The attributes needed to name, store and report an instance. */
export interface DicomHeader {
  sopClassUid: string;
  sopInstanceUid: string;
  studyUid: string;
  seriesUid: string;
  transferSyntaxUid: string;
  /** Media Storage SOP Class / Instance UIDs of the File Meta, when present. */
  metaSopClassUid?: string;
  metaSopInstanceUid?: string;
}

/**
 * Why a part is not a storable instance: "unreadable", it cannot be read as a PS3.10 file at all;
 * "uids", it can, but a UID needed to name and store it is missing or invalid.
 */
export type HeaderProblem = "unreadable" | "uids";

export type HeaderResult =
  | { kind: "ok"; header: DicomHeader }
  | { kind: "more" }
  | { kind: "invalid"; problem: HeaderProblem; message: string; partial: Partial<DicomHeader> };

/** The four UIDs must lie within this many bytes of the start of the instance (of its data set once inflated, for a deflated one). */
export const MAX_HEADER_BYTES = 4 * 1024 * 1024;
