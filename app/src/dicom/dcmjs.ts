// dcmjs, the general header reader (header.ts), loaded when a header first needs it and held to a
// budget. dcmjs decodes whatever it reads into JavaScript values: measured on 4 MiB header prefixes,
// half a million empty elements took 8-18 s and 200-360 MiB, one US element of 4 MiB 1.7 s and
// 100 MiB, a UI value of 4 MiB 150 MiB. So it reads at most DCMJS_LIMITS.datasetBytes of a data
// set, at most DCMJS_LIMITS.elements elements, nested at most DCMJS_LIMITS.depth sequences deep;
// past any of them it stops with DcmjsBudgetExceeded and the element walker (element-walker.ts,
// one pass, no values decoded) reads on.
import { createRequire } from "node:module";
import type dcmjsModule from "dcmjs";

export const DCMJS_LIMITS = {
  /** Bytes of a data set dcmjs is given; real headers hold their UIDs within a few KiB. */
  datasetBytes: 64 * 1024,
  /** Elements (items included) dcmjs reads in one pass. */
  elements: 2_000,
  /** Sequences nested within each other; each level is scanned and copied by dcmjs. */
  depth: 8,
} as const;

export class DcmjsBudgetExceeded extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DcmjsBudgetExceeded";
  }
}

export interface DcmjsStream {
  offset: number;
  size: number;
  /** Reads past it fail, and end() is true at it. */
  endOffset: number;
  end(): boolean;
  reset(): DcmjsStream;
  increment(n: number): void;
}
export type DcmjsDict = Record<string, { vr: string; Value?: unknown[]; _rawValue?: unknown }>;
type ReadTag = (stream: DcmjsStream, syntax: string, options?: Record<string, unknown>) => { tag: { toCleanString(): string }; values: unknown[] };
type Read = (stream: DcmjsStream, syntax: string, options?: Record<string, unknown>) => DcmjsDict;
export interface DcmjsData {
  ReadBufferStream: new (buffer: ArrayBuffer, littleEndian?: boolean | null, options?: { noCopy?: boolean }) => DcmjsStream;
  DicomMessage: { _read: Read; _readTag: ReadTag };
}

const require = createRequire(import.meta.url);
let loaded: DcmjsData | undefined;
/** The pass under way: what it has spent so far. */
let spent: { elements: number; depth: number } | undefined;

/** dcmjs's data module: about 16 MiB of memory (its data dictionary) that a service receiving only well-formed instances never spends. */
export function dcmjs(): DcmjsData {
  if (!loaded) {
    const module = require("dcmjs") as typeof dcmjsModule;
    // dcmjs logs through loglevel; its messages can quote attribute values (PHI), so silence all of them.
    module.log.setLevel("silent");
    for (const name of ["validation.dcmjs", "AsyncDicomReader"]) module.log.getLogger(name).setLevel("silent");
    loaded = module.data as unknown as DcmjsData;
    meter(loaded.DicomMessage);
  }
  return loaded;
}

/**
 * Runs one dcmjs pass under the budget. dcmjs reads every element through DicomMessage._readTag
 * and every item of a sequence through DicomMessage._read (both looked up on the class at each
 * call), so counting there sees all of its work. Outside a pass the counters are off.
 */
export function withinBudget<T>(pass: () => T): T {
  const outer = spent;
  spent = { elements: 0, depth: 0 };
  try {
    return pass();
  } finally {
    spent = outer;
  }
}

function meter(message: DcmjsData["DicomMessage"]): void {
  const readTag = message._readTag;
  const read = message._read;
  message._readTag = function (this: unknown, stream, syntax, options) {
    if (spent && ++spent.elements > DCMJS_LIMITS.elements) throw new DcmjsBudgetExceeded(`more than ${DCMJS_LIMITS.elements} data elements`);
    return readTag.call(this, stream, syntax, options);
  };
  message._read = function (this: unknown, stream, syntax, options) {
    if (!spent) return read.call(this, stream, syntax, options);
    if (++spent.depth > DCMJS_LIMITS.depth + 1) throw new DcmjsBudgetExceeded(`sequences nested more than ${DCMJS_LIMITS.depth} deep`);
    // An item counts as an element: a sequence of empty items costs dcmjs as much as empty elements.
    if (spent.depth > 1 && ++spent.elements > DCMJS_LIMITS.elements) throw new DcmjsBudgetExceeded(`more than ${DCMJS_LIMITS.elements} data elements`);
    try {
      return read.call(this, stream, syntax, options);
    } finally {
      spent.depth -= 1;
    }
  };
}

/** An ArrayBuffer holding exactly buf's bytes: buf's own when it spans all of it (no copy), else a copy. */
export function arrayBufferOf(buf: Buffer): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf.buffer;
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}
