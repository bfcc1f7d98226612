// Writes ct-1.dcm .. ct-3.dcm: three slices of one synthetic CT series of a
// water cylinder phantom. Nothing here comes from a person; every value is
// fixed so that running the generator twice gives the same bytes.
//
//   node --import tsx dcm-samples/generate.ts [outDir]
//
// The elements are encoded by hand (explicit VR little endian) rather than
// through a toolkit so that byte order, padding and element order are under
// this file's control and cannot change with a library upgrade.

import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const SAMPLE_FILES = ["ct-1.dcm", "ct-2.dcm", "ct-3.dcm"] as const;

const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1";
const ROWS = 128;
const COLUMNS = 128;
const PIXEL_SPACING_MM = 2;
const SLICE_THICKNESS_MM = 5;
const RESCALE_INTERCEPT = -1024;

// A UID under the 2.25 root (PS3.5 B.2): the decimal form of a name-based
// (SHA-1, version 5) UUID. The name says what the UID identifies, so the
// same name always yields the same UID and different names never collide.
const UID_NAMESPACE = "stowrs-to-s3/dcm-samples/phantom-ct/";

export function sampleUid(name: string): string {
  const hash = createHash("sha1").update(UID_NAMESPACE + name).digest();
  const uuid = Buffer.from(hash.subarray(0, 16));
  uuid[6] = (uuid[6] & 0x0f) | 0x50;
  uuid[8] = (uuid[8] & 0x3f) | 0x80;
  return `2.25.${BigInt("0x" + uuid.toString("hex")).toString(10)}`;
}

export const STUDY_UID = sampleUid("study");
export const SERIES_UID = sampleUid("series");
const FRAME_OF_REFERENCE_UID = sampleUid("frame-of-reference");
const IMPLEMENTATION_CLASS_UID = sampleUid("implementation");
export const instanceUid = (slice: number): string => sampleUid(`instance-${slice}`);

type Vr = "AE" | "AS" | "CS" | "DA" | "DS" | "IS" | "LO" | "OB" | "OW" | "PN" | "SH" | "TM" | "UI" | "UL" | "US";

// VRs whose explicit encoding uses a 4-byte length after two reserved bytes.
const LONG_VRS = new Set<Vr>(["OB", "OW"]);

function padded(vr: Vr, value: Buffer): Buffer {
  if (value.length % 2 === 0) return value;
  const pad = vr === "UI" || vr === "OB" ? 0x00 : 0x20;
  return Buffer.concat([value, Buffer.from([pad])]);
}

function element(tag: number, vr: Vr, value: Buffer | string | number): Buffer {
  let raw: Buffer;
  if (typeof value === "number") {
    raw = Buffer.alloc(vr === "UL" ? 4 : 2);
    if (vr === "UL") raw.writeUInt32LE(value);
    else raw.writeUInt16LE(value);
  } else {
    raw = typeof value === "string" ? Buffer.from(value, "ascii") : value;
  }
  const body = padded(vr, raw);
  const long = LONG_VRS.has(vr);
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.write(vr, 4, "ascii");
  if (long) head.writeUInt32LE(body.length, 8);
  else head.writeUInt16LE(body.length, 6);
  return Buffer.concat([head, body]);
}

// Hounsfield units of the phantom materials.
const AIR = -1000;
const WATER = 0;
const FAT = -100;
const BONE = 700;
const LUNG = -700;

// A 200 mm water cylinder with three inserts; the bone rod narrows from slice
// to slice so each instance has different pixel data.
function phantomHu(slice: number, x: number, y: number): number {
  const inside = (cx: number, cy: number, r: number) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  if (!inside(0, 0, 100)) return AIR;
  if (inside(-50, 0, 20)) return LUNG;
  if (inside(50, 0, 20)) return FAT;
  if (inside(0, -50, 24 - 4 * slice)) return BONE;
  return WATER;
}

function pixelData(slice: number): Buffer {
  const data = Buffer.alloc(ROWS * COLUMNS * 2);
  for (let row = 0; row < ROWS; row++) {
    for (let col = 0; col < COLUMNS; col++) {
      const x = (col - (COLUMNS - 1) / 2) * PIXEL_SPACING_MM;
      const y = (row - (ROWS - 1) / 2) * PIXEL_SPACING_MM;
      data.writeUInt16LE(phantomHu(slice, x, y) - RESCALE_INTERCEPT, (row * COLUMNS + col) * 2);
    }
  }
  return data;
}

function fileMeta(sopInstanceUid: string): Buffer {
  const rest = Buffer.concat([
    element(0x00020001, "OB", Buffer.from([0x00, 0x01])),
    element(0x00020002, "UI", CT_IMAGE_STORAGE),
    element(0x00020003, "UI", sopInstanceUid),
    element(0x00020010, "UI", EXPLICIT_VR_LITTLE_ENDIAN),
    element(0x00020012, "UI", IMPLEMENTATION_CLASS_UID),
    element(0x00020013, "SH", "STOWRS2S3_SAMPL"),
  ]);
  return Buffer.concat([element(0x00020000, "UL", rest.length), rest]);
}

// Elements in ascending tag order, as PS3.5 7.1 requires.
function dataSet(slice: number): Buffer {
  const sopInstanceUid = instanceUid(slice);
  const z = -SLICE_THICKNESS_MM * (slice - 1);
  const corner = -((COLUMNS - 1) / 2) * PIXEL_SPACING_MM;
  return Buffer.concat([
    element(0x00080008, "CS", "ORIGINAL\\PRIMARY\\AXIAL"),
    element(0x00080016, "UI", CT_IMAGE_STORAGE),
    element(0x00080018, "UI", sopInstanceUid),
    element(0x00080020, "DA", "20000101"),
    element(0x00080021, "DA", "20000101"),
    element(0x00080022, "DA", "20000101"),
    element(0x00080023, "DA", "20000101"),
    element(0x00080030, "TM", "120000"),
    element(0x00080031, "TM", "120000"),
    element(0x00080032, "TM", "120000"),
    element(0x00080033, "TM", "120000"),
    element(0x00080050, "SH", "PHANTOM-ACC1"),
    element(0x00080060, "CS", "CT"),
    element(0x00080070, "LO", "stowrs-to-s3 sample generator"),
    element(0x00080090, "PN", ""),
    element(0x00081030, "LO", "Synthetic phantom study"),
    element(0x0008103e, "LO", "Synthetic water cylinder phantom"),
    element(0x00081090, "LO", "SYNTHETIC"),
    element(0x00100010, "PN", "PHANTOM^CT"),
    element(0x00100020, "LO", "PHANTOM-0001"),
    element(0x00100030, "DA", ""),
    element(0x00100040, "CS", "O"),
    element(0x00120062, "CS", "YES"),
    element(0x00120063, "LO", "Synthetic data, never identified"),
    // An unpaired body part, so Laterality (2C) is correctly absent; the
    // cylinder is sized like an abdomen section.
    element(0x00180015, "CS", "ABDOMEN"),
    element(0x00180050, "DS", String(SLICE_THICKNESS_MM)),
    element(0x00180060, "DS", "120"),
    element(0x00185100, "CS", "HFS"),
    element(0x0020000d, "UI", STUDY_UID),
    element(0x0020000e, "UI", SERIES_UID),
    element(0x00200010, "SH", "PHANTOM1"),
    element(0x00200011, "IS", "1"),
    element(0x00200012, "IS", "1"),
    element(0x00200013, "IS", String(slice)),
    element(0x00200032, "DS", `${corner}\\${corner}\\${z}`),
    element(0x00200037, "DS", "1\\0\\0\\0\\1\\0"),
    element(0x00200052, "UI", FRAME_OF_REFERENCE_UID),
    element(0x00201040, "LO", ""),
    element(0x00201041, "DS", String(z)),
    element(0x00280002, "US", 1),
    element(0x00280004, "CS", "MONOCHROME2"),
    element(0x00280010, "US", ROWS),
    element(0x00280011, "US", COLUMNS),
    element(0x00280030, "DS", `${PIXEL_SPACING_MM}\\${PIXEL_SPACING_MM}`),
    element(0x00280100, "US", 16),
    element(0x00280101, "US", 12),
    element(0x00280102, "US", 11),
    element(0x00280103, "US", 0),
    element(0x00281050, "DS", "40"),
    element(0x00281051, "DS", "400"),
    element(0x00281052, "DS", String(RESCALE_INTERCEPT)),
    element(0x00281053, "DS", "1"),
    element(0x00281054, "LO", "HU"),
    element(0x7fe00010, "OW", pixelData(slice)),
  ]);
}

export function sampleInstance(slice: number): Buffer {
  const preamble = Buffer.alloc(128);
  return Buffer.concat([preamble, Buffer.from("DICM", "ascii"), fileMeta(instanceUid(slice)), dataSet(slice)]);
}

export function writeSamples(outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  return SAMPLE_FILES.map((name, i) => {
    const path = join(outDir, name);
    writeFileSync(path, sampleInstance(i + 1));
    return path;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outDir = process.argv[2] ?? fileURLToPath(new URL(".", import.meta.url));
  for (const path of writeSamples(outDir)) console.log(path);
}
