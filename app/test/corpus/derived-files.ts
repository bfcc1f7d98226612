// Files made at test time with dcmtk from the Debian corpus: transfer syntaxes
// the shipped set lacks, and broken variants of real files whose failure
// reason is unambiguous.
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TS } from "../support/transfer-syntaxes.js";
import { REASON } from "./corpus-files.js";

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
  { name: "CT_small_jpeg_process14.dcm", source: "CT_small.dcm", transferSyntax: TS.jpegLossless, tool: ["dcmcjpeg", "+el", "+un"] },
  { name: "CT_small_jpeg_spectral.dcm", source: "CT_small.dcm", transferSyntax: TS.jpegSpectralSelectionNonHierarchical68, tool: ["dcmcjpeg", "+es", "+un"] },
  { name: "CT_small_jpeg_progressive.dcm", source: "CT_small.dcm", transferSyntax: TS.jpegFullProgressionNonHierarchical1012, tool: ["dcmcjpeg", "+ep", "+un"] },
  { name: "CT_small_deflated_dcmtk.dcm", source: "CT_small.dcm", transferSyntax: TS.deflatedExplicitVRLittleEndian, tool: ["dcmconv", "+td"] },
  { name: "SC_rgb_small_odd_jpegls_near.dcm", source: "SC_rgb_small_odd.dcm", transferSyntax: TS.jpegLSNearLossless, tool: ["dcmcjpls", "+en", "+un"] },
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

/**
 * CT_small with a private sequence of VR UN and undefined length inserted in
 * group 0009, before the Study and Series UIDs. PS3.5 6.2.2 says such a UN
 * holds an implicit VR little endian sequence: this is what a private
 * sequence looks like after passing through a system that did not know its
 * VR, and a conformant reader (dcmdump, pydicom) reads straight past it.
 */
export const UN_SEQUENCE_FILE = { name: "CT_small_private_UN_sequence.dcm", source: "CT_small.dcm", transferSyntax: TS.explicitVRLittleEndian };

const LONG_LENGTH_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"]);

/** Inserts the private UN sequence into an explicit VR little endian file whose group 0009 elements have defined lengths. */
export function insertPrivateUnSequence(file: Buffer): Buffer {
  const u16 = (n: number) => Buffer.from([n & 0xff, n >> 8]);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const tag = (group: number, element: number) => Buffer.concat([u16(group), u16(element)]);
  const undefinedLength = 0xffffffff;

  // Top-level walk from the end of the preamble to the first element after group 0009.
  let offset = 132;
  let afterLast0009 = -1;
  while (offset < file.length) {
    const group = file.readUInt16LE(offset);
    if (group > 0x0009) break;
    const vr = file.toString("latin1", offset + 4, offset + 6);
    const long = LONG_LENGTH_VRS.has(vr);
    const length = long ? file.readUInt32LE(offset + 8) : file.readUInt16LE(offset + 6);
    if (length === undefinedLength) throw new Error("undefined length before group 0010; pick another source file");
    offset += (long ? 12 : 8) + length;
    if (group === 0x0009) afterLast0009 = offset;
  }
  if (afterLast0009 < 0) throw new Error("source has no group 0009 to extend");

  // Private block 0x11 of group 0009: a creator, then the UN element.
  const creatorValue = Buffer.from("ACME 1.0", "latin1");
  const creator = Buffer.concat([tag(0x0009, 0x0011), Buffer.from("LO"), u16(creatorValue.length), creatorValue]);
  const leafValue = Buffer.from("hello ", "latin1");
  const implicitSequence = Buffer.concat([
    tag(0xfffe, 0xe000), u32(undefinedLength),
    tag(0x0009, 0x1102), u32(leafValue.length), leafValue,
    tag(0xfffe, 0xe00d), u32(0),
    tag(0xfffe, 0xe0dd), u32(0),
  ]);
  const unElement = Buffer.concat([tag(0x0009, 0x1101), Buffer.from("UN"), u16(0), u32(undefinedLength), implicitSequence]);

  // (0009,0011) sorts after the existing creator (0009,0010) and before every
  // (0009,10xx); (0009,1101) sorts after all of block 0x10.
  const creatorAt = file.indexOf(Buffer.concat([tag(0x0009, 0x0010), Buffer.from("LO")]), 132);
  if (creatorAt < 0) throw new Error("source has no private creator (0009,0010)");
  const afterCreator = creatorAt + 8 + file.readUInt16LE(creatorAt + 6);
  return Buffer.concat([
    file.subarray(0, afterCreator),
    creator,
    file.subarray(afterCreator, afterLast0009),
    unElement,
    file.subarray(afterLast0009),
  ]);
}

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
  if (available(UN_SEQUENCE_FILE.source)) {
    const path = join(outDir, UN_SEQUENCE_FILE.name);
    writeFileSync(path, insertPrivateUnSequence(readFileSync(join(sourceDir, UN_SEQUENCE_FILE.source))));
    storable.push({ ...UN_SEQUENCE_FILE, tool: ["(spliced in derived-files.ts)"], path });
  }
  let wrongType: string | null = null;
  if (available(WRONG_TYPE_FILE.source)) {
    wrongType = join(outDir, WRONG_TYPE_FILE.name);
    edit(join(sourceDir, WRONG_TYPE_FILE.source), wrongType, WRONG_TYPE_FILE.edits);
  }
  return { storable, rejected, wrongType };
}
