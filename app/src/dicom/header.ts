// Reads the few attributes the service needs from the start of a PS3.10 instance, without ever
// looking at pixel data: it is called with a growing prefix of the part until it has an answer,
// so only the header bytes are ever held in memory. A well-formed instance is read directly
// (fast-header.ts); every other one, and every failure, is read with dcmjs (dcmjs.ts, within its
// budget), and where dcmjs gives up, with the element walker. A deflated data set is inflated by
// the caller (deflated-dataset.ts) and handed in beside the prefix.
import type { InflatedDataset } from "./deflated-dataset.js";
import { arrayBufferOf, dcmjs, DcmjsBudgetExceeded, DCMJS_LIMITS, withinBudget, type DcmjsDict, type DcmjsStream } from "./dcmjs.js";
import { MAX_HEADER_BYTES, type DicomHeader, type HeaderProblem, type HeaderResult } from "./dicom-header.js";
import { walkTopLevel } from "./element-walker.js";
import { readWellFormedHeader } from "./fast-header.js";
import { isValidUid, normalizeUid } from "./uid.js";

export { MAX_HEADER_BYTES, type DicomHeader, type HeaderProblem, type HeaderResult };
export type { InflatedDataset };

export const TRANSFER_SYNTAX = {
  implicitLE: "1.2.840.10008.1.2",
  explicitLE: "1.2.840.10008.1.2.1",
  deflatedLE: "1.2.840.10008.1.2.1.99",
  explicitBE: "1.2.840.10008.1.2.2",
} as const;

/**
 * What a prefix says: a HeaderResult, or, for a deflated data set that was not handed in
 * inflated, where its deflated bytes start (then ask again with them inflated).
 */
export type PrefixRead = HeaderResult | { kind: "deflated"; datasetOffset: number };

/** The reason text of a deflated instance whose UIDs are not within MAX_HEADER_BYTES of its inflated data set. */
export const INFLATED_HEADER_TOO_LARGE = "header too large after inflation";

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
 * @param inflated for a deflated instance, its data set inflated so far
 */
export function readDicomHeader(prefix: Buffer, complete: boolean, inflated?: InflatedDataset): PrefixRead {
  const wellFormed = readWellFormedHeader(prefix);
  return wellFormed ? { kind: "ok", header: wellFormed } : readHeaderWithDcmjs(prefix, complete, inflated);
}

/** The general reader: every answer for unusual instances, and every failure, comes from here. */
export function readHeaderWithDcmjs(prefix: Buffer, complete: boolean, inflated?: InflatedDataset): PrefixRead {
  const more = !complete && prefix.length < MAX_HEADER_BYTES;
  if (prefix.length < 132) {
    return more ? { kind: "more" } : invalid("unreadable", "too short to be a DICOM PS3.10 file", {});
  }
  if (prefix.toString("latin1", 128, 132) !== "DICM") {
    return invalid("unreadable", "not a DICOM PS3.10 file (no DICM prefix after the 128-byte preamble)", {});
  }

  let transferSyntaxUid: string | undefined;
  let metaUids: Pick<DicomHeader, "metaSopClassUid" | "metaSopInstanceUid"> = {};
  let metaEnd: number;
  try {
    const meta = readFileMeta(prefix);
    metaEnd = meta.end;
    transferSyntaxUid = normalizeUid(first(meta.dict, "00020010"));
    metaUids = { metaSopClassUid: normalizeUid(first(meta.dict, "00020002")), metaSopInstanceUid: normalizeUid(first(meta.dict, "00020003")) };
  } catch (e) {
    return more ? { kind: "more" } : invalid("unreadable", `unreadable File Meta Information: ${messageOf(e)}`, {});
  }
  if (!transferSyntaxUid) {
    return more ? { kind: "more" } : invalid("unreadable", "File Meta Information has no Transfer Syntax UID (0002,0010)", {});
  }

  // The data set: its bytes, and whether more of them may still come.
  let dataset: { bytes: Buffer; syntax: string; more: boolean; complete: boolean; overBudget: boolean; inflateError?: string };
  if (transferSyntaxUid === TRANSFER_SYNTAX.deflatedLE) {
    if (!inflated) return { kind: "deflated", datasetOffset: metaEnd };
    dataset = {
      bytes: inflated.bytes,
      syntax: TRANSFER_SYNTAX.explicitLE,
      more: !inflated.complete && !inflated.overBudget,
      complete: inflated.complete,
      overBudget: inflated.overBudget,
      inflateError: inflated.error,
    };
  } else {
    const syntax = transferSyntaxUid === TRANSFER_SYNTAX.implicitLE || transferSyntaxUid === TRANSFER_SYNTAX.explicitBE ? transferSyntaxUid : TRANSFER_SYNTAX.explicitLE;
    dataset = { bytes: prefix.subarray(metaEnd), syntax, more, complete, overBudget: false };
  }
  const { values, stoppedEarly, parseError } = readDataset(dataset.bytes, dataset.syntax);

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
  if (dataset.more && !stoppedEarly) return { kind: "more" };
  if (dataset.inflateError !== undefined && !stoppedEarly) {
    return invalid("unreadable", `the deflated data set cannot be inflated: ${dataset.inflateError}`, partial);
  }
  if (dataset.overBudget && !stoppedEarly) {
    return invalid("unreadable", `${INFLATED_HEADER_TOO_LARGE} (${missing.join(", ")} not within the first ${MAX_HEADER_BYTES} bytes of the data set)`, partial);
  }
  if (parseError !== undefined && dataset.complete) {
    return invalid("unreadable", `unreadable data set: ${messageOf(parseError)}`, partial);
  }
  return invalid("uids", `missing ${missing.join(", ")}`, partial);
}

function readFileMeta(prefix: Buffer): { dict: DcmjsDict; end: number } {
  const { DicomMessage, ReadBufferStream } = dcmjs();
  const stream = new ReadBufferStream(arrayBufferOf(prefix), null, { noCopy: true });
  return withinBudget(() => {
    stream.increment(132);
    const groupLength = DicomMessage._readTag(stream, TRANSFER_SYNTAX.explicitLE);
    if (groupLength.tag.toCleanString() === "00020000") {
      const length = Number(groupLength.values[0]);
      if (!Number.isFinite(length) || stream.offset + length > prefix.length) throw new RangeError("File Meta Information is incomplete");
      // Read group 0002 up to its stated end and no further (what dcmjs's more() does, without a copy).
      const end = stream.offset + length;
      stream.endOffset = end;
      return { dict: DicomMessage._read(stream, TRANSFER_SYNTAX.explicitLE, { ignoreErrors: false }), end };
    }
    // No group length: read group 0002 element by element, as dcmjs itself does.
    stream.offset = 132;
    const dict = DicomMessage._read(stream, TRANSFER_SYNTAX.explicitLE, { untilTag: "00030000", stopOnGreaterTag: true, ignoreErrors: false });
    return { dict, end: stream.offset };
  });
}

interface DatasetRead {
  values: Record<keyof typeof TAGS, unknown>;
  /** Reading stopped at a tag past Series Instance UID: more bytes would not change the answer. */
  stoppedEarly: boolean;
  /** Why the data set could not be read up to there, when it could not. */
  parseError?: unknown;
}

/**
 * dcmjs reads the first DCMJS_LIMITS.datasetBytes of the data set within its budget; where it
 * fails (a truncated prefix, a quirk it is strict about such as an unusual character set or a UN
 * element of undefined length, or its budget) or has not reached Series Instance UID by the end
 * of what it was given, the element walker reads the whole of `bytes` and fills in what dcmjs
 * did not find.
 */
function readDataset(bytes: Buffer, syntax: string): DatasetRead {
  const { DicomMessage, ReadBufferStream } = dcmjs();
  const given = bytes.length > DCMJS_LIMITS.datasetBytes ? bytes.subarray(0, DCMJS_LIMITS.datasetBytes) : bytes;
  const options = { untilTag: TAGS.seriesUid, includeUntilTagValue: true, stopOnGreaterTag: true, ignoreErrors: false };
  const stream: DcmjsStream = new ReadBufferStream(arrayBufferOf(given), null, { noCopy: true });
  let values: Record<keyof typeof TAGS, unknown>;
  let parseError: unknown;
  try {
    const dict = withinBudget(() => DicomMessage._read(stream, syntax, options));
    const stoppedEarly = !stream.end();
    values = pick(dict);
    if (stoppedEarly || given === bytes) return { values, stoppedEarly };
  } catch (e) {
    parseError = e;
    // Read again leniently and keep what came before the failure; a pass that ran out of budget
    // would only run out again.
    stream.offset = 0;
    values = e instanceof DcmjsBudgetExceeded ? pick({}) : pick(withinBudget(() => DicomMessage._read(stream, syntax, { ...options, ignoreErrors: true })));
  }
  const walked = walkTopLevel(bytes, 0, { littleEndian: syntax !== TRANSFER_SYNTAX.explicitBE, explicit: syntax !== TRANSFER_SYNTAX.implicitLE }, WANTED, LAST_WANTED);
  for (const key of Object.keys(TAGS) as (keyof typeof TAGS)[]) {
    const found = walked.values.get(parseInt(TAGS[key], 16));
    if (values[key] === undefined && found) values[key] = found.toString("latin1");
  }
  if (walked.kind === "values") return { values, stoppedEarly: walked.stoppedAt === "greater-tag" };
  // dcmjs's account of the failure stands where it read everything; where it was cut short (by
  // the bytes it was given or by its budget), the walker's does.
  if (parseError === undefined || given !== bytes || parseError instanceof DcmjsBudgetExceeded) {
    parseError = new Error(walked.kind === "malformed" ? walked.message : "the data set ends inside an element");
  }
  return { values, stoppedEarly: false, parseError };
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
