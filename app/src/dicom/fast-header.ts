// The header of a well-formed instance, read directly from its bytes: a File Meta with its group
// length, a data set in implicit or explicit VR little endian or explicit VR big endian whose
// elements up to Series Instance UID are in order and complete, and four valid UIDs. That is
// nearly every instance, and it takes microseconds. Anything else (deflate, no group length,
// elements out of order or cut off, a missing or invalid UID) gets no answer here: the caller
// then reads the header with dcmjs (header.ts), whose answers decide every unusual case.
import { scanElements } from "./element-walker.js";
import type { DicomHeader } from "./dicom-header.js";
import { isValidUid, normalizeUid } from "./uid.js";

const IMPLICIT_LE = "1.2.840.10008.1.2";
const EXPLICIT_BE = "1.2.840.10008.1.2.2";
const DEFLATED_LE = "1.2.840.10008.1.2.1.99";

const META = { sopClassUid: 0x00020002, sopInstanceUid: 0x00020003, transferSyntaxUid: 0x00020010 } as const;
const META_WANTED = new Set(Object.values(META));
const DATASET = { sopClassUid: 0x00080016, sopInstanceUid: 0x00080018, studyUid: 0x0020000d, seriesUid: 0x0020000e } as const;
const DATASET_WANTED = new Set(Object.values(DATASET));
const EXPLICIT_LE_OPTIONS = { littleEndian: true, explicit: true };

/** The header if the prefix shows a well-formed instance with valid UIDs; undefined: ask dcmjs. */
export function readWellFormedHeader(prefix: Buffer): DicomHeader | undefined {
  // DICM after the preamble, then (0002,0000) UL of length 4: the File Meta group length, then the group itself.
  if (prefix.length < 144 || prefix.readUInt32LE(128) !== 0x4d434944) return undefined;
  if (prefix.readUInt32LE(132) !== 0x00000002 || prefix.readUInt32LE(136) !== 0x00044c55) return undefined;
  const metaEnd = 144 + prefix.readUInt32LE(140);
  if (metaEnd > prefix.length) return undefined;
  const meta = scanElements(prefix, 144, metaEnd, EXPLICIT_LE_OPTIONS, META_WANTED, "UI", 0x0002ffff);
  if (!meta || meta.stoppedAt !== "end") return undefined;
  const transferSyntaxUid = uid(meta.values.get(META.transferSyntaxUid));
  if (!transferSyntaxUid || transferSyntaxUid === DEFLATED_LE) return undefined;
  const options = { littleEndian: transferSyntaxUid !== EXPLICIT_BE, explicit: transferSyntaxUid !== IMPLICIT_LE };
  const dataset = scanElements(prefix, metaEnd, prefix.length, options, DATASET_WANTED, "UI", DATASET.seriesUid);
  if (!dataset || dataset.stoppedAt !== "greater-tag") return undefined;
  const header: Partial<DicomHeader> = { transferSyntaxUid };
  for (const key of Object.keys(DATASET) as (keyof typeof DATASET)[]) {
    const value = uid(dataset.values.get(DATASET[key]));
    if (!value) return undefined;
    header[key] = value;
  }
  // Present File Meta UIDs must be valid too (they only decide a warning, but dcmjs reads odd ones its own way).
  for (const key of ["sopClassUid", "sopInstanceUid"] as const) {
    const raw = meta.values.get(META[key]);
    if (raw === undefined) continue;
    const value = uid(raw);
    if (!value) return undefined;
    header[key === "sopClassUid" ? "metaSopClassUid" : "metaSopInstanceUid"] = value;
  }
  return header as DicomHeader;
}

/** A UI value that is a valid UID once its padding is stripped; undefined otherwise. */
function uid(raw: Buffer | undefined): string | undefined {
  if (!raw) return undefined;
  const value = normalizeUid(raw.toString("latin1"));
  return value !== undefined && isValidUid(value) ? value : undefined;
}
