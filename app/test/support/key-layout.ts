// Where an instance must land: {PREFIX}/{StudyUID}/{SeriesUID}/{SOPInstanceUID}.dcm. Stated here
// once for every test, benchmark and the stacks' rehearsal, apart from the service's
// storage/object-key.ts, so that a mistake in the service's key cannot also write the
// expectation it is checked against.

export interface InstanceUids {
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
}

export function expectedKey(uids: InstanceUids, prefix = ""): string {
  const path = `${uids.studyUid}/${uids.seriesUid}/${uids.sopInstanceUid}.dcm`;
  return prefix ? `${prefix}/${path}` : path;
}

/** Any key of the layout when PREFIX is empty: three UIDs, nothing else. */
export const KEY_LAYOUT = /^[0-9.]+\/[0-9.]+\/[0-9.]+\.dcm$/;
