// The dcm-samples as a client sends them, with the key each must land at and its digest.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { readDicomHeader } from "../../app/src/dicom/header";

export const SAMPLES_DIR = path.resolve(__dirname, "../../dcm-samples");

export interface Sample {
  file: string;
  bytes: Buffer;
  sha256: string;
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
}

export function loadSamples(dir = SAMPLES_DIR): Sample[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".dcm")).sort();
  if (files.length === 0) throw new Error(`no .dcm files in ${dir}`);
  return files.map((name) => {
    const file = path.join(dir, name);
    const bytes = fs.readFileSync(file);
    const parsed = readDicomHeader(bytes, true);
    if (parsed.kind !== "ok") throw new Error(`${file}: not a DICOM instance the service would store`);
    const { studyUid, seriesUid, sopInstanceUid } = parsed.header;
    return { file, bytes, sha256: createHash("sha256").update(bytes).digest("hex"), studyUid, seriesUid, sopInstanceUid };
  });
}

/** Where the service stores an instance: {PREFIX}/{Study}/{Series}/{SOP}.dcm. */
export function objectKey(prefix: string, s: Sample): string {
  const p = prefix.replace(/^\/+|\/+$/g, "");
  return `${p === "" ? "" : `${p}/`}${s.studyUid}/${s.seriesUid}/${s.sopInstanceUid}.dcm`;
}
