import { readFileSync, existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildInstance, newUid, SYNTHETIC_SYNTAXES } from "../../test/support/dicom.js";
import { readHeaderOf } from "../../test/support/header-reading.js";
import { MAX_HEADER_BYTES, type HeaderResult } from "./header.js";

/** Feeds the reader growing prefixes, as the service does. */
function readIncrementally(data: Buffer, step: number): HeaderResult {
  for (let n = Math.min(step, data.length); ; n = Math.min(n + step, data.length)) {
    const r = readHeaderOf(data.subarray(0, n), n === data.length);
    if (r.kind !== "more") return r;
    if (n === data.length) throw new Error("reader asked for more after the whole part");
  }
}

describe("readDicomHeader", () => {
  for (const [name, ts] of Object.entries(SYNTHETIC_SYNTAXES)) {
    it(`reads the UIDs of a ${name} instance from a prefix`, () => {
      const uids = { studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() };
      const data = buildInstance({ ...uids, transferSyntax: ts, pixels: 200_000 });
      const r = readIncrementally(data, 1024);
      expect(r).toEqual({
        kind: "ok",
        header: {
          ...uids,
          sopClassUid: "1.2.840.10008.5.1.4.1.1.2",
          transferSyntaxUid: ts,
          metaSopClassUid: "1.2.840.10008.5.1.4.1.1.2",
          metaSopInstanceUid: uids.sopInstanceUid,
        },
      });
    });
  }

  it("answers from the header bytes alone, without the pixel data", () => {
    const data = buildInstance({ pixels: 1_000_000 });
    expect(readHeaderOf(data.subarray(0, 4096), false).kind).toBe("ok");
  });

  it("fails a part without the DICM prefix as unreadable", () => {
    const r = readHeaderOf(Buffer.from("hello world, this is not DICOM".repeat(10)), true);
    expect(r).toMatchObject({ kind: "invalid", problem: "unreadable" });
  });

  it("fails a short part as unreadable", () => {
    expect(readHeaderOf(Buffer.from("tiny"), true)).toMatchObject({ kind: "invalid", problem: "unreadable" });
  });

  it.each([["0020000D"], ["0020000E"], ["00080018"], ["00080016"]])("fails an instance missing %s for its UIDs", (tag) => {
    const data = buildInstance({ omit: [tag] });
    expect(readIncrementally(data, 64)).toMatchObject({ kind: "invalid", problem: "uids" });
  });

  it.each([["1.2/../../etc"], ["../1.2"], ["1.02.3"], ["a.b"]])("fails a Study UID %s for its UIDs", (bad) => {
    const data = buildInstance({ studyUid: bad });
    const r = readIncrementally(data, 100);
    expect(r).toMatchObject({ kind: "invalid", problem: "uids" });
  });

  it("fails a truncated instance", () => {
    const data = buildInstance({ pixels: 100 });
    const r = readHeaderOf(data.subarray(0, 200), true);
    expect(r.kind).toBe("invalid");
  });

  it("stops asking for more at MAX_HEADER_BYTES", () => {
    // A private OB element declared longer than the header limit, before the Study UID.
    const instance = buildInstance({ omit: ["0020000D", "0020000E", "00280010", "00280011", "7FE00010"] });
    const element = Buffer.from([0x09, 0x00, 0x10, 0x10, 0x4f, 0x42, 0, 0, 0, 0, 0, 0]);
    element.writeUInt32LE(MAX_HEADER_BYTES * 2, 8);
    const data = Buffer.concat([instance, element, Buffer.alloc(MAX_HEADER_BYTES)]);
    expect(readHeaderOf(data.subarray(0, MAX_HEADER_BYTES - 1), false).kind).toBe("more");
    expect(readHeaderOf(data, false)).toMatchObject({ kind: "invalid", problem: "uids" });
  });

  it("reads past a UN element of undefined length (an implicit VR sequence, PS3.5 6.2.2)", () => {
    const uids = { studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() };
    const base = buildInstance({ ...uids, pixels: 64 });
    const at = base.indexOf(Buffer.from([0x20, 0x00, 0x0d, 0x00, 0x55, 0x49])); // (0020,000D) UI
    const creator = Buffer.concat([Buffer.from([0x09, 0x00, 0x10, 0x00, 0x4c, 0x4f, 0x04, 0x00]), Buffer.from("PRIV")]);
    const un = Buffer.concat([
      Buffer.from([0x09, 0x00, 0x01, 0x10, 0x55, 0x4e, 0, 0, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]), // item, undefined length
      Buffer.from([0x09, 0x00, 0x02, 0x10, 0x04, 0, 0, 0]), // implicit VR element
      Buffer.from("abcd"),
      Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]), // item delimiter
      Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]), // sequence delimiter
    ]);
    const data = Buffer.concat([base.subarray(0, at), creator, un, base.subarray(at)]);
    expect(readIncrementally(data, 64)).toMatchObject({ kind: "ok", header: uids });
    expect(readHeaderOf(data, true)).toMatchObject({ kind: "ok", header: uids });
  });

  const pydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  it.runIf(existsSync(pydicomFiles))("reads real-world files in several transfer syntaxes", () => {
    for (const f of ["CT_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "image_dfl.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm"]) {
      const data = readFileSync(`${pydicomFiles}/${f}`);
      const r = readIncrementally(data, 512);
      expect(r.kind, f).toBe("ok");
    }
  });

  it("never throws and always answers on garbage and truncation (fuzz)", () => {
    const base = buildInstance({ pixels: 64 });
    fc.assert(
      fc.property(
        fc.nat(base.length),
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.boolean(),
        (cut, flips, complete) => {
          const data = Buffer.from(base.subarray(0, cut));
          for (const [pos, byte] of flips) if (pos < data.length) data[pos] = byte;
          const r = readHeaderOf(data, complete);
          if (complete) expect(r.kind).not.toBe("more");
          if (r.kind === "invalid") expect(["unreadable", "uids"]).toContain(r.problem);
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
