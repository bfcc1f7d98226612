// The Store Instances Response Module (PS3.18 Annex I) as DICOM JSON (PS3.18 F.2).
import type { StoreResult } from "./outcome.js";

export type DicomJsonValue = { vr: string; Value?: Array<string | number | DicomJson> };
export type DicomJson = Record<string, DicomJsonValue>;

const ui = (v: string | undefined): DicomJsonValue => (v ? { vr: "UI", Value: [v] } : { vr: "UI" });
const us = (v: number): DicomJsonValue => ({ vr: "US", Value: [v] });
const ur = (v: string | undefined): DicomJsonValue => (v ? { vr: "UR", Value: [v] } : { vr: "UR" });
const sq = (items: DicomJson[]): DicomJsonValue => ({ vr: "SQ", Value: items });

export function buildStoreResponse(result: StoreResult, wadoUrl: string | undefined): DicomJson {
  const stored = result.instances.filter((i) => i.stored);
  const failed = result.instances.filter((i) => !i.stored);
  const out: DicomJson = {};

  const studies = new Set(stored.map((i) => i.studyUid));
  if (wadoUrl && studies.size === 1) {
    out["00081190"] = ur(`${wadoUrl}/studies/${stored[0].studyUid}`);
  }
  if (failed.length) {
    out["00081198"] = sq(
      failed.map((i) => ({
        "00081150": ui(i.sopClassUid),
        "00081155": ui(i.sopInstanceUid),
        "00081197": us(i.reason!),
      })),
    );
  }
  if (stored.length) {
    out["00081199"] = sq(
      stored.map((i) => {
        const item: DicomJson = {
          "00081150": ui(i.sopClassUid),
          "00081155": ui(i.sopInstanceUid),
          "00081190": ur(wadoUrl ? `${wadoUrl}/studies/${i.studyUid}/series/${i.seriesUid}/instances/${i.sopInstanceUid}` : undefined),
        };
        if (i.warning !== undefined) item["00081196"] = us(i.warning);
        return item;
      }),
    );
  }
  if (result.otherFailures.length) {
    out["0008119A"] = sq(result.otherFailures.map((f) => ({ "00081197": us(f.reason) })));
  }
  return out;
}
