// dcmjs's budget: each bound, crossed, stops dcmjs and leaves the rest to the element walker,
// which still reads the UIDs of an instance that is merely unusual.
import { afterEach, describe, expect, it, vi } from "vitest";
import { delimiters, elementHead as head, emptyElements, filler, instanceWithInserted as withInserted, nestedSequences as nested, type Syntax } from "../../test/support/hostile-dicom.js";
import { TS } from "../../test/support/transfer-syntaxes.js";
import { arrayBufferOf, dcmjs, DcmjsBudgetExceeded, DCMJS_LIMITS, withinBudget } from "./dcmjs.js";
import { readHeaderWithDcmjs } from "./header.js";

afterEach(() => vi.restoreAllMocks());

/** How many elements dcmjs was asked to read, and how deep its reads went, while `run` ran. */
function meterDcmjs<T>(run: () => T): { result: T; elements: number; depth: number; datasetStreams: number[] } {
  const message = dcmjs().DicomMessage;
  let elements = 0;
  let depth = 0;
  let maxDepth = 0;
  const datasetStreams: number[] = [];
  const readTag = message._readTag;
  const read = message._read;
  vi.spyOn(message, "_readTag").mockImplementation(function (this: unknown, ...args) {
    elements += 1;
    return readTag.apply(this, args);
  });
  vi.spyOn(message, "_read").mockImplementation(function (this: unknown, ...args) {
    if (depth === 0 && args[0].offset === 0) datasetStreams.push(args[0].size);
    maxDepth = Math.max(maxDepth, ++depth);
    try {
      return read.apply(this, args);
    } finally {
      depth -= 1;
    }
  });
  const result = run();
  vi.restoreAllMocks();
  return { result, elements, depth: maxDepth, datasetStreams };
}

describe("dcmjs's budget", () => {
  it(`stops a pass after ${DCMJS_LIMITS.elements} elements, items included`, () => {
    const { DicomMessage, ReadBufferStream } = dcmjs();
    const read = (parts: Buffer[]) => () => withinBudget(() => DicomMessage._read(new ReadBufferStream(arrayBufferOf(Buffer.concat(parts)), null, { noCopy: true }), TS.explicitVRLittleEndian));
    expect(read(emptyElements("explicit", DCMJS_LIMITS.elements))).not.toThrow();
    expect(read(emptyElements("explicit", DCMJS_LIMITS.elements + 1))).toThrow(DcmjsBudgetExceeded);
    // Items count as elements: half the budget in items of one element each is over it.
    const { item, itemEnd, seqEnd } = delimiters("explicit");
    const items = Array.from({ length: DCMJS_LIMITS.elements / 2 }, () => [item, filler("explicit"), itemEnd]).flat();
    expect(read([head("explicit", 0x00091010, "SQ", 0xffffffff), ...items, seqEnd])).toThrow(DcmjsBudgetExceeded);
  });

  it(`stops a pass at sequences nested more than ${DCMJS_LIMITS.depth} deep`, () => {
    const { DicomMessage, ReadBufferStream } = dcmjs();
    const read = (parts: Buffer[]) => () => withinBudget(() => DicomMessage._read(new ReadBufferStream(arrayBufferOf(Buffer.concat(parts)), null, { noCopy: true }), TS.explicitVRLittleEndian));
    expect(read(nested("explicit", DCMJS_LIMITS.depth))).not.toThrow();
    expect(read(nested("explicit", DCMJS_LIMITS.depth + 1))).toThrow(DcmjsBudgetExceeded);
  });

  it("counts nothing outside a pass", () => {
    const { DicomMessage, ReadBufferStream } = dcmjs();
    const many = Buffer.concat(emptyElements("explicit", DCMJS_LIMITS.elements * 2));
    expect(() => DicomMessage._read(new ReadBufferStream(arrayBufferOf(many), null, { noCopy: true }), TS.explicitVRLittleEndian)).not.toThrow();
  });

  for (const syntax of ["explicit", "implicit", "big"] as const) {
    it(`reads an instance with 20,000 elements before Study Instance UID (${syntax}): dcmjs stops at its budget, the walker finds the UIDs`, () => {
      const { data, uids } = withInserted(syntax, emptyElements(syntax, 20_000));
      const metered = meterDcmjs(() => readHeaderWithDcmjs(data, true));
      expect(metered.result).toMatchObject({ kind: "ok", header: uids });
      // The File Meta's few elements, then one pass of the data set up to the budget.
      expect(metered.elements).toBeLessThanOrEqual(DCMJS_LIMITS.elements + 20);
    });

    it(`reads an instance with sequences nested ${DCMJS_LIMITS.depth + 4} deep before Study Instance UID (${syntax})`, () => {
      const { data, uids } = withInserted(syntax, nested(syntax, DCMJS_LIMITS.depth + 4));
      const metered = meterDcmjs(() => readHeaderWithDcmjs(data, true));
      expect(metered.result).toMatchObject({ kind: "ok", header: uids });
      expect(metered.depth).toBeLessThanOrEqual(DCMJS_LIMITS.depth + 2);
    });

    it(`fails an instance with sequences nested 10,000 deep as unreadable, dcmjs going no deeper than its budget (${syntax})`, () => {
      const { data } = withInserted(syntax, nested(syntax, 10_000));
      const metered = meterDcmjs(() => readHeaderWithDcmjs(data, true));
      expect(metered.result).toMatchObject({ kind: "invalid", problem: "unreadable" });
      expect(metered.depth).toBeLessThanOrEqual(DCMJS_LIMITS.depth + 2);
    });

    it(`gives dcmjs at most ${DCMJS_LIMITS.datasetBytes} bytes of the data set: UIDs after a 1 MiB private value are the walker's (${syntax})`, () => {
      const { data, uids } = withInserted(syntax, [head(syntax, 0x00091010, "OB", 1024 * 1024), Buffer.alloc(1024 * 1024, 0x41)]);
      const metered = meterDcmjs(() => readHeaderWithDcmjs(data, true));
      expect(metered.result).toMatchObject({ kind: "ok", header: uids });
      expect(metered.datasetStreams.length).toBeGreaterThan(0);
      for (const size of metered.datasetStreams) expect(size).toBeLessThanOrEqual(DCMJS_LIMITS.datasetBytes);
    });
  }

  // Lengths that claim gigabytes, in every VR family (binary values dcmjs decodes one by one, text,
  // bulk, sequences), in a prefix of 1 KiB and one of 1 MiB, cut or whole: always an answer, never
  // a throw, and dcmjs never reads past its budget.
  const claims: Array<[Syntax, number, string]> = [
    ["explicit", 0x00091010, "OB"],
    ["explicit", 0x00091010, "UN"],
    ["explicit", 0x00181310, "UN"], // a US attribute (Acquisition Matrix) written as UN: dcmjs decodes it as US
    ["explicit", 0x00091010, "UT"],
    ["explicit", 0x00091010, "SQ"],
    ["explicit", 0x00081150, "UN"], // a UI attribute as UN
    ["implicit", 0x00181310, "US"],
    ["implicit", 0x00189219, "FD"],
    ["implicit", 0x00081150, "UI"],
    ["implicit", 0x00081140, "SQ"],
    ["big", 0x00091010, "OW"],
    ["big", 0x00091010, "UT"],
  ];
  for (const [syntax, tag, vr] of claims) {
    it(`answers for a ${vr} element (${tag.toString(16).padStart(8, "0")}, ${syntax}) that claims 4 GiB`, () => {
      for (const fill of [1024, 1024 * 1024]) {
        const { data } = withInserted(syntax, [head(syntax, tag, vr, 0xfffffff0), Buffer.alloc(fill, 0x31)]);
        for (const complete of [true, false]) {
          const metered = meterDcmjs(() => readHeaderWithDcmjs(data, complete));
          if (complete) expect(metered.result.kind).not.toBe("more");
          if (metered.result.kind === "invalid") expect(["unreadable", "uids"]).toContain(metered.result.problem);
          for (const size of metered.datasetStreams) expect(size).toBeLessThanOrEqual(DCMJS_LIMITS.datasetBytes);
          expect(metered.elements).toBeLessThanOrEqual(2 * (DCMJS_LIMITS.elements + 20));
        }
      }
    });
  }
});
