// Reading a Store Instances Response (PS3.18) in DICOM JSON: who was stored, who failed and why.

/** SOP Instance UIDs in ReferencedSOPSequence (0008,1199): the instances stored. */
export const referencedUids = (json: any): string[] => (json?.["00081199"]?.Value ?? []).map((i: any) => i["00081155"].Value[0]);

/** FailedSOPSequence (0008,1198): each failed instance's SOP Instance UID and FailureReason. */
export const failedItems = (json: any): Array<{ uid: string; reason: number }> =>
  (json?.["00081198"]?.Value ?? []).map((i: any) => ({ uid: i["00081155"]?.Value?.[0], reason: i["00081197"].Value[0] }));

/** FailureReason of each OtherFailuresSequence (0008,119A) item: parts that named no instance. */
export const otherReasons = (json: any): number[] => (json?.["0008119A"]?.Value ?? []).map((i: any) => i["00081197"].Value[0]);

/** The start of an answer that is not a Store Instances Response in DICOM JSON (an error document), for messages. */
export const errorDocument = (reply: { contentType: string; text: string }): string | undefined =>
  reply.contentType.startsWith("application/dicom+json") ? undefined : reply.text.slice(0, 500);
