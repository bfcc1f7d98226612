import { isValidUid } from "../dicom/uid.js";

export interface KeyUids {
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
}

/**
 * {PREFIX}/{StudyUID}/{SeriesUID}/{SOPInstanceUID}.dcm, with no leading slash when PREFIX is empty.
 * Every UID is re-checked here, the last gate before S3, so that no value can add path segments.
 */
export function objectKey(prefix: string, uids: KeyUids): string {
  for (const uid of [uids.studyUid, uids.seriesUid, uids.sopInstanceUid]) {
    if (!isValidUid(uid)) throw new Error("refusing to build an object key from an invalid UID");
  }
  const path = `${uids.studyUid}/${uids.seriesUid}/${uids.sopInstanceUid}.dcm`;
  return prefix === "" ? path : `${prefix}/${path}`;
}
