// The dcm-samples as the smoke test (and the rehearsal) sends them: bytes, digest and UIDs,
// read with the service's own header reader (the tests' app/test/support/samples.ts asks
// dcmtk's dcmdump instead, which an operator's machine need not have). Where each must land is
// not stated here: the smoke asks the service's objectKey, the rehearsal the tests' key layout.
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
