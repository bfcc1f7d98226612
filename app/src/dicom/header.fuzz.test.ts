// Hostile input for the DICOM header reader, fed the way the service feeds it: growing prefixes of
// a part, cut at random points, in every transfer syntax, with garbage and truncation. It must
// always answer (never throw), answer definitively once it has the whole part, and give the same
// answer whatever the chunking.
import { readFileSync, existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildInstance, newUid, SYNTHETIC_SYNTAXES } from "../../test/support/dicom.js";
import { readWellFormedHeader } from "./fast-header.js";
import { readHeaderOf, readHeaderWithDcmjsOf } from "../../test/support/header-reading.js";
import type { HeaderResult } from "./header.js";
import { isValidUid } from "./uid.js";

/** Feeds growing prefixes ending at the given cut points (then the whole part), as the service does. */
function readInSteps(data: Buffer, cuts: number[]): { result: HeaderResult; calls: number } {
  const points = [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((a, b) => a - b);
  let calls = 0;
  for (const n of points) {
    calls += 1;
    const r = readHeaderOf(data.subarray(0, n), n === data.length);
    if (r.kind !== "more") return { result: r, calls };
  }
  calls += 1;
  return { result: readHeaderOf(data, true), calls };
}

function checkAnswer(r: HeaderResult): void {
  if (r.kind === "ok") {
    // Anything that reaches an object key is a valid UID.
    for (const uid of [r.header.studyUid, r.header.seriesUid, r.header.sopInstanceUid, r.header.sopClassUid]) expect(isValidUid(uid)).toBe(true);
  } else if (r.kind === "invalid") {
    expect(["unreadable", "uids"]).toContain(r.problem);
    expect(r.message.length).toBeGreaterThan(0);
    for (const uid of [r.partial.studyUid, r.partial.seriesUid, r.partial.sopInstanceUid]) if (uid !== undefined) expect(isValidUid(uid)).toBe(true);
  }
}

const templates = Object.values(SYNTHETIC_SYNTAXES).map((ts) => buildInstance({ transferSyntax: ts, pixels: 300, studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() }));
const pydicomDir = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
const realFiles = existsSync(pydicomDir)
  ? ["CT_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "image_dfl.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm"]
      .filter((f) => existsSync(`${pydicomDir}/${f}`))
      .map((f) => readFileSync(`${pydicomDir}/${f}`))
  : [];
const bases = [...templates, ...realFiles];

describe("readDicomHeader under hostile input (fuzz)", () => {
  it("gives the same answer whatever the chunking, for intact instances (property)", () => {
    const whole = bases.map((b) => readHeaderOf(b, true));
    fc.assert(
      fc.property(fc.nat(bases.length - 1), fc.array(fc.nat(20_000), { maxLength: 12 }), (i, cuts) => {
        const { result } = readInSteps(bases[i], cuts);
        expect(result).toEqual(whole[i]);
        expect(result.kind).toBe("ok");
      }),
      { numRuns: 2_000 },
    );
  });

  it("always answers on truncated, overwritten and salted instances in random chunks, never throwing (10,000 cases)", () => {
    fc.assert(
      fc.property(
        fc.nat(bases.length - 1),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
            fc.record({ kind: fc.constant("overwrite" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
            fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
          ),
          { maxLength: 5 },
        ),
        fc.array(fc.nat(6_000), { maxLength: 10 }),
        (i, mutations, cuts) => {
          let data = Buffer.from(bases[i]);
          for (const m of mutations) {
            // Mutations land mostly in the header, where the reader looks.
            const at = m.at % Math.min(data.length + 1, 1024);
            if (m.kind === "truncate") data = data.subarray(0, at);
            else if (m.kind === "overwrite") Buffer.from(m.bytes).copy(data, at);
            else data = Buffer.concat([data.subarray(0, at), Buffer.from(m.bytes), data.subarray(at)]);
          }
          const { result, calls } = readInSteps(data, cuts);
          expect(result.kind).not.toBe("more");
          expect(calls).toBeLessThanOrEqual(cuts.length + 1);
          checkAnswer(result);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it("answers directly only where dcmjs gives the same answer: mutated and cut instances of every syntax (property, 20,000 cases)", () => {
    let direct = 0;
    fc.assert(
      fc.property(
        fc.nat(bases.length - 1),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant("overwrite" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
            fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
          ),
          { maxLength: 2 },
        ),
        fc.nat(3_000),
        fc.boolean(),
        (i, mutations, cut, complete) => {
          let data = Buffer.from(bases[i]);
          for (const m of mutations) {
            const at = m.at % Math.min(data.length + 1, 1024);
            if (m.kind === "overwrite") Buffer.from(m.bytes).copy(data, at);
            else data = Buffer.concat([data.subarray(0, at), Buffer.from(m.bytes), data.subarray(at)]);
          }
          const prefix = complete ? data : data.subarray(0, Math.min(data.length, 132 + cut));
          const fast = readWellFormedHeader(prefix);
          if (!fast) return;
          direct += 1;
          expect(readHeaderWithDcmjsOf(prefix, complete)).toEqual({ kind: "ok", header: fast });
        },
      ),
      { numRuns: 20_000 },
    );
    // Most cases are intact enough to be read directly; the comparison must not be empty.
    expect(direct).toBeGreaterThan(2_000);
  });

  it("reads every intact instance of the templates and real files directly, as dcmjs does", () => {
    for (const base of bases) {
      const fast = readWellFormedHeader(base);
      const general = readHeaderWithDcmjsOf(base, true);
      if (fast) expect(general).toEqual({ kind: "ok", header: fast });
      // The deflated template and files without a File Meta group length are dcmjs's.
      else expect(general.kind).toBe("ok");
    }
    expect(bases.filter((b) => readWellFormedHeader(b)).length).toBeGreaterThanOrEqual(templates.length - 1);
  });

  it("fails a UID holding any character outside digits and dots as a UID problem, never repairing it (property)", () => {
    const fields = ["studyUid", "seriesUid", "sopInstanceUid", "sopClassUid"] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...fields),
        fc.constantFrom(...Object.values(SYNTHETIC_SYNTAXES)),
        // Anything printable but the digits, the dot and the space that pads a value.
        fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 3 }).filter((s) => /[^0-9.]/.test(s)),
        fc.nat(),
        (field, ts, junk, at) => {
          const uid = field === "sopClassUid" ? "1.2.840.10008.5.1.4.1.1.2" : newUid();
          const pos = 1 + (at % (uid.length - 1));
          const bad = `${uid.slice(0, pos)}${junk}${uid.slice(pos)}`;
          const data = buildInstance({ transferSyntax: ts, pixels: 16, [field]: bad });
          const { result } = readInSteps(data, [200, 400]);
          expect(result).toMatchObject({ kind: "invalid", problem: "uids" });
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("rejects random bytes behind a DICM preamble with a stated problem (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2_000 }), fc.boolean(), fc.array(fc.nat(2_200), { maxLength: 6 }), (bytes, withPrefix, cuts) => {
        const data = withPrefix ? Buffer.concat([Buffer.alloc(128), Buffer.from("DICM"), Buffer.from(bytes)]) : Buffer.from(bytes);
        const { result } = readInSteps(data, cuts);
        expect(result.kind).not.toBe("more");
        checkAnswer(result);
      }),
      { numRuns: 3_000 },
    );
  });
});
