// Files made at test time with dcmtk from the Debian corpus: transfer syntaxes
// the shipped set lacks, and broken variants of real files whose failure
// reason is unambiguous.
import { execFileSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { REASON, TS } from "./corpus-files.js";

export interface DerivedStorable {
  name: string;
  source: string;
  transferSyntax: string;
  /** dcmtk tool and its options; the source and output paths are appended. */
  tool: string[];
}

export interface DerivedRejected {
  name: string;
  source: string;
  reason: number;
  why: string;
  /** dcmodify options applied to a copy of the source. */
  edits: string[];
  /** Its SOP Class and Instance UIDs are valid, so its failure must name them. */
  identifiable: boolean;
}

// "+un" keeps the source's SOP Instance UID so the run is deterministic.
export const DERIVED_STORABLE: DerivedStorable[] = [
  { name: "CT_small_jpeg_process14.dcm", source: "CT_small.dcm", transferSyntax: TS.jpegLosslessP14, tool: ["dcmcjpeg", "+el", "+un"] },
  { name: "CT_small_jpeg_spectral.dcm", source: "CT_small.dcm", transferSyntax: TS.jpegSpectral, tool: ["dcmcjpeg", "+es", "+un"] },
  { name: "CT_small_jpeg_progressive.dcm", source: "CT_small.dcm", transferSyntax: TS.jpegProgressive, tool: ["dcmcjpeg", "+ep", "+un"] },
  { name: "CT_small_deflated_dcmtk.dcm", source: "CT_small.dcm", transferSyntax: TS.deflatedLE, tool: ["dcmconv", "+td"] },
  { name: "SC_rgb_small_odd_jpegls_near.dcm", source: "SC_rgb_small_odd.dcm", transferSyntax: TS.jpegLsNearLossless, tool: ["dcmcjpls", "+en", "+un"] },
];

// Fixed UID for the instance that is only ever sent with a wrong part type:
// 2.25 + the decimal of a constant 128-bit value, never stored by anything.
export const WRONG_TYPE_UID = "2.25.195112785063412346052208851367346340353";

export const DERIVED_REJECTED: DerivedRejected[] = [
  {
    name: "CT_small_without_study_uid.dcm",
    source: "CT_small.dcm",
    reason: REASON.badUids,
    why: "Study Instance UID erased",
    edits: ["-ea", "(0020,000d)"],
    identifiable: true,
  },
  {
    name: "CT_small_series_uid_leading_zero.dcm",
    source: "CT_small.dcm",
    reason: REASON.badUids,
    why: "Series Instance UID 1.2.03.4 has a component with a leading zero",
    edits: ["-m", "(0020,000e)=1.2.03.4"],
    identifiable: true,
  },
  {
    name: "MR_small_study_uid_path.dcm",
    source: "MR_small.dcm",
    reason: REASON.badUids,
    why: "Study Instance UID is a relative path",
    edits: ["-m", "(0020,000d)=../../../escape"],
    identifiable: true,
  },
  {
    name: "MR_small_sop_uid_slash.dcm",
    source: "MR_small.dcm",
    reason: REASON.badUids,
    why: "SOP Instance UID contains / and ..",
    edits: ["-m", "(0008,0018)=1.2.3/../4"],
    identifiable: false,
  },
  {
    name: "SC_rgb_small_odd_sop_uid_65_chars.dcm",
    source: "SC_rgb_small_odd.dcm",
    reason: REASON.badUids,
    why: "SOP Instance UID is 65 characters, over the PS3.5 limit of 64",
    edits: ["-m", `(0008,0018)=1.2.${"3".repeat(61)}`],
    identifiable: false,
  },
];

/** CT_small under a fresh UID, for sending as a part that is not application/dicom. */
export const WRONG_TYPE_FILE = { name: "CT_small_wrong_part_type.dcm", source: "CT_small.dcm", edits: ["-m", `(0008,0018)=${WRONG_TYPE_UID}`] };

function edit(source: string, target: string, edits: string[]) {
  copyFileSync(source, target);
  // -nb: no .bak copy. dcmodify also rewrites File Meta to match the data set.
  execFileSync("dcmodify", ["-nb", ...edits, target], { stdio: "pipe" });
}

export function deriveFiles(sourceDir: string, outDir: string, available: (name: string) => boolean) {
  const storable = DERIVED_STORABLE.filter((d) => available(d.source)).map((d) => {
    const path = join(outDir, d.name);
    const [tool, ...options] = d.tool;
    execFileSync(tool, [...options, join(sourceDir, d.source), path], { stdio: "pipe" });
    return { ...d, path };
  });
  const rejected = DERIVED_REJECTED.filter((d) => available(d.source)).map((d) => {
    const path = join(outDir, d.name);
    edit(join(sourceDir, d.source), path, d.edits);
    return { ...d, path };
  });
  let wrongType: string | null = null;
  if (available(WRONG_TYPE_FILE.source)) {
    wrongType = join(outDir, WRONG_TYPE_FILE.name);
    edit(join(sourceDir, WRONG_TYPE_FILE.source), wrongType, WRONG_TYPE_FILE.edits);
  }
  return { storable, rejected, wrongType };
}
