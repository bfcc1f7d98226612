// Reads the few attributes the service needs from the start of a PS3.10 instance, without ever
// looking at pixel data: it is called with a growing prefix of the part until it has an answer,
// so only the header bytes are ever held in memory. A well-formed instance is read directly
// (fast-header.ts); every other one, and every failure, is read with dcmjs.
import { createRequire } from "node:module";
import { inflateRawSync, constants as zlibConstants } from "node:zlib";
import type dcmjsModule from "dcmjs";
import { walkTopLevel } from "./element-walker.js";
import { readWellFormedHeader } from "./fast-header.js";
import { isValidUid, normalizeUid } from "./uid.js";

const require = createRequire(import.meta.url);
let dcmjsData: DcmjsData | undefined;

/**
 * dcmjs, loaded when a header first needs it: about 16 MiB of memory (its data dictionary) that a
 * service receiving only well-formed instances never spends.
 */
function dcmjs(): DcmjsData {
  if (!dcmjsData) {
    const loaded = require("dcmjs") as typeof dcmjsModule;
    // dcmjs logs through loglevel; its messages can quote attribute values (PHI), so silence all of them.
    loaded.log.setLevel("silent");
    for (const name of ["validation.dcmjs", "AsyncDicomReader"]) loaded.log.getLogger(name).setLevel("silent");
    dcmjsData = loaded.data as unknown as DcmjsData;
  }
  return dcmjsData;
}

interface DcmjsStream {
  offset: number;
  size: number;
  /** Reads past it fail, and end() is true at it. */
  endOffset: number;
  end(): boolean;
  reset(): DcmjsStream;
  increment(n: number): void;
  readAsciiString(n: number): string;
  more(n: number): DcmjsStream;
}
type DcmjsDict = Record<string, { vr: string; Value?: unknown[]; _rawValue?: unknown }>;
interface DcmjsData {
  ReadBufferStream: new (buffer: ArrayBuffer, littleEndian?: boolean | null, options?: { noCopy?: boolean }) => DcmjsStream;
  DicomMessage: {
    _read(stream: DcmjsStream, syntax: string, options: Record<string, unknown>): DcmjsDict;
    _readTag(stream: DcmjsStream, syntax: string, options?: Record<string, unknown>): { tag: { toCleanString(): string }; values: unknown[] };
  };
}

export const TRANSFER_SYNTAX = {
  implicitLE: "1.2.840.10008.1.2",
  explicitLE: "1.2.840.10008.1.2.1",
  deflatedLE: "1.2.840.10008.1.2.1.99",
  explicitBE: "1.2.840.10008.1.2.2",
} as const;

/** The attributes needed to name, store and report an instance. */
export interface DicomHeader {
  sopClassUid: string;
  sopInstanceUid: string;
  studyUid: string;
  seriesUid: string;
  transferSyntaxUid: string;
  /** Media Storage SOP Class / Instance UIDs of the File Meta, when present. */
  metaSopClassUid?: string;
  metaSopInstanceUid?: string;
}

/**
 * Why a part is not a storable instance: "unreadable", it cannot be read as a PS3.10 file at all;
 * "uids", it can, but a UID needed to name and store it is missing or invalid.
 */
export type HeaderProblem = "unreadable" | "uids";

export type HeaderResult =
  | { kind: "ok"; header: DicomHeader }
  | { kind: "more" }
  | { kind: "invalid"; problem: HeaderProblem; message: string; partial: Partial<DicomHeader> };

/** The four UIDs must lie within this many bytes of the start of the instance. */
export const MAX_HEADER_BYTES = 4 * 1024 * 1024;

const TAGS = {
  sopClassUid: "00080016",
  sopInstanceUid: "00080018",
  studyUid: "0020000D",
  seriesUid: "0020000E",
} as const;

const WANTED = new Set(Object.values(TAGS).map((t) => parseInt(t, 16)));
const LAST_WANTED = parseInt(TAGS.seriesUid, 16);

const NAMES: Record<keyof typeof TAGS, string> = {
  sopClassUid: "SOP Class UID (0008,0016)",
  sopInstanceUid: "SOP Instance UID (0008,0018)",
  studyUid: "Study Instance UID (0020,000D)",
  seriesUid: "Series Instance UID (0020,000E)",
};

function arrayBufferOf(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/**
 * A UI value exactly as written. dcmjs "formats" UI values by deleting every character that is not
 * a digit or a dot ("1.2.3/4" becomes "1.2.34") and splits them at backslashes, so its Value would
 * store and acknowledge an instance under a UID it does not carry. Several values are joined back
 * together, which no UID check accepts.
 */
function first(dict: DcmjsDict, tag: string): unknown {
  const entry = dict[tag];
  const raw = entry?._rawValue ?? entry?.Value;
  if (!Array.isArray(raw)) return raw;
  return raw.length > 1 ? raw.join("\\") : raw[0];
}

/**
 * @param prefix the first bytes of the part
 * @param complete whether prefix is the whole part
 */
export function readDicomHeader(prefix: Buffer, complete: boolean): HeaderResult {
  const wellFormed = readWellFormedHeader(prefix);
  return wellFormed ? { kind: "ok", header: wellFormed } : readHeaderWithDcmjs(prefix, complete);
}

/** The general reader: every answer for unusual instances, and every failure, comes from here. */
export function readHeaderWithDcmjs(prefix: Buffer, complete: boolean): HeaderResult {
  const { DicomMessage, ReadBufferStream } = dcmjs();
  const more = !complete && prefix.length < MAX_HEADER_BYTES;
  if (prefix.length < 132) {
    return more ? { kind: "more" } : invalid("unreadable", "too short to be a DICOM PS3.10 file", {});
  }
  if (prefix.toString("latin1", 128, 132) !== "DICM") {
    return invalid("unreadable", "not a DICOM PS3.10 file (no DICM prefix after the 128-byte preamble)", {});
  }

  let transferSyntaxUid: string | undefined;
  let metaUids: Pick<DicomHeader, "metaSopClassUid" | "metaSopInstanceUid"> = {};
  let dataset: DatasetBytes;
  // One stream (one copy of the prefix) for the File Meta and, unless deflated, the data set.
  const prefixStream = new ReadBufferStream(arrayBufferOf(prefix), null, { noCopy: true });
  try {
    const meta = readFileMeta(prefixStream, prefix.length);
    transferSyntaxUid = normalizeUid(first(meta.dict, "00020010"));
    metaUids = { metaSopClassUid: normalizeUid(first(meta.dict, "00020002")), metaSopInstanceUid: normalizeUid(first(meta.dict, "00020003")) };
    if (!transferSyntaxUid) {
      return more ? { kind: "more" } : invalid("unreadable", "File Meta Information has no Transfer Syntax UID (0002,0010)", {});
    }
    dataset = datasetBytes(prefix, meta.end, transferSyntaxUid, complete);
  } catch (e) {
    return more ? { kind: "more" } : invalid("unreadable", `unreadable File Meta Information: ${messageOf(e)}`, {});
  }

  const options = { untilTag: TAGS.seriesUid, includeUntilTagValue: true, stopOnGreaterTag: true, ignoreErrors: false };
  const stream = dataset.buffer === prefix ? prefixStream : new ReadBufferStream(arrayBufferOf(dataset.buffer), null, { noCopy: true });
  stream.offset = dataset.offset;
  let values: Record<keyof typeof TAGS, unknown>;
  let stoppedEarly = false;
  let parseError: unknown;
  try {
    const dict = DicomMessage._read(stream, dataset.syntax, options);
    stoppedEarly = !stream.end();
    values = pick(dict);
  } catch (e) {
    // Truncated prefix, or a quirk dcmjs is strict about (an unusual character set, a UN
    // element of undefined length): read again leniently and keep what came before it.
    parseError = e;
    stream.offset = dataset.offset;
    values = pick(DicomMessage._read(stream, dataset.syntax, { ...options, ignoreErrors: true }));
    const walked = walkTopLevel(
      dataset.buffer,
      dataset.offset,
      { littleEndian: dataset.syntax !== TRANSFER_SYNTAX.explicitBE, explicit: dataset.syntax !== TRANSFER_SYNTAX.implicitLE },
      WANTED,
      LAST_WANTED,
    );
    for (const key of Object.keys(TAGS) as (keyof typeof TAGS)[]) {
      const found = walked.values.get(parseInt(TAGS[key], 16));
      if (values[key] === undefined && found) values[key] = found.toString("latin1");
    }
    if (walked.kind === "values") {
      parseError = undefined;
      stoppedEarly = walked.stoppedAt === "greater-tag";
    }
  }

  const partial: Partial<DicomHeader> = { transferSyntaxUid };
  const missing: string[] = [];
  const bad: string[] = [];
  for (const key of Object.keys(TAGS) as (keyof typeof TAGS)[]) {
    const value = normalizeUid(values[key]);
    if (value === undefined) missing.push(NAMES[key]);
    else if (!isValidUid(value)) bad.push(NAMES[key]);
    else partial[key] = value;
  }
  if (missing.length === 0 && bad.length === 0) {
    if (!isValidUid(transferSyntaxUid)) {
      return invalid("uids", "Transfer Syntax UID (0002,0010) is not a valid UID", partial);
    }
    const header = partial as DicomHeader;
    if (metaUids.metaSopClassUid) header.metaSopClassUid = metaUids.metaSopClassUid;
    if (metaUids.metaSopInstanceUid) header.metaSopInstanceUid = metaUids.metaSopInstanceUid;
    return { kind: "ok", header };
  }
  if (bad.length) {
    return invalid("uids", `invalid UID in ${bad.join(", ")}`, partial);
  }
  if (more && !stoppedEarly) return { kind: "more" };
  if (parseError !== undefined && complete) {
    return invalid("unreadable", `unreadable data set: ${messageOf(parseError)}`, partial);
  }
  return invalid("uids", `missing ${missing.join(", ")}`, partial);
}

function readFileMeta(stream: DcmjsStream, available: number): { dict: DcmjsDict; end: number } {
  const { DicomMessage } = dcmjs();
  stream.reset();
  stream.increment(132);
  const groupLength = DicomMessage._readTag(stream, TRANSFER_SYNTAX.explicitLE);
  if (groupLength.tag.toCleanString() === "00020000") {
    const length = Number(groupLength.values[0]);
    if (!Number.isFinite(length) || stream.offset + length > available) throw new RangeError("File Meta Information is incomplete");
    // Read group 0002 up to its stated end and no further (what dcmjs's more() does, without a copy).
    const end = stream.offset + length;
    stream.endOffset = end;
    try {
      const dict = DicomMessage._read(stream, TRANSFER_SYNTAX.explicitLE, { ignoreErrors: false });
      return { dict, end };
    } finally {
      stream.endOffset = stream.size;
    }
  }
  // No group length: read group 0002 element by element, as dcmjs itself does.
  stream.offset = 132;
  const dict = DicomMessage._read(stream, TRANSFER_SYNTAX.explicitLE, { untilTag: "00030000", stopOnGreaterTag: true, ignoreErrors: false });
  return { dict, end: stream.offset };
}

interface DatasetBytes {
  buffer: Buffer;
  offset: number;
  syntax: string;
}

function datasetBytes(prefix: Buffer, metaEnd: number, ts: string, complete: boolean): DatasetBytes {
  if (ts === TRANSFER_SYNTAX.deflatedLE) {
    // Inflate only what has arrived; a sync flush returns the bytes so far without failing on the cut.
    const inflated = inflateRawSync(prefix.subarray(metaEnd), complete ? {} : { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    return { buffer: inflated, offset: 0, syntax: TRANSFER_SYNTAX.explicitLE };
  }
  const syntax = ts === TRANSFER_SYNTAX.implicitLE || ts === TRANSFER_SYNTAX.explicitBE ? ts : TRANSFER_SYNTAX.explicitLE;
  return { buffer: prefix, offset: metaEnd, syntax };
}

function pick(dict: DcmjsDict): Record<keyof typeof TAGS, unknown> {
  return {
    sopClassUid: first(dict, TAGS.sopClassUid),
    sopInstanceUid: first(dict, TAGS.sopInstanceUid),
    studyUid: first(dict, TAGS.studyUid),
    seriesUid: first(dict, TAGS.seriesUid),
  };
}

function invalid(problem: HeaderProblem, message: string, partial: Partial<DicomHeader>): HeaderResult {
  return { kind: "invalid", problem, message, partial };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
