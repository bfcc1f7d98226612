// Hostile input for the multipart reader: well-formed bodies that are then truncated, overwritten
// or salted with delimiter fragments, delivered in random chunks. Whatever arrives, the reader
// either reads parts or throws a MultipartError, and always finishes in a bounded number of calls.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { chunked } from "../../test/support/chunked.js";
import { MultipartError, MultipartReader } from "./reader.js";


function build(bodies: Buffer[], boundary: string): Buffer {
  const out: Buffer[] = [];
  bodies.forEach((b, i) => out.push(Buffer.from(`${i ? "\r\n" : ""}--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, "latin1"), b));
  out.push(Buffer.from(`\r\n--${boundary}--\r\n`, "latin1"));
  return Buffer.concat(out);
}

type Mutation =
  | { kind: "truncate"; at: number }
  | { kind: "overwrite"; at: number; bytes: Uint8Array }
  | { kind: "insert"; at: number; bytes: Uint8Array };

function mutate(data: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(data);
  for (const m of mutations) {
    const at = out.length ? m.at % (out.length + 1) : 0;
    if (m.kind === "truncate") out = out.subarray(0, at);
    else if (m.kind === "overwrite") {
      out = Buffer.from(out);
      Buffer.from(m.bytes).copy(out, at);
    } else out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
  }
  return out;
}

/**
 * Reads everything the way the service does, counting calls: every readBody() that is not the end
 * of a part returns at least one byte, so more calls than bytes (plus parts) would mean a loop.
 */
async function readCounting(data: Buffer, boundary: string, cuts: number[]): Promise<{ parts: number; bytes: number }> {
  const reader = new MultipartReader(chunked(data, cuts), boundary);
  const budget = data.length + 64;
  let calls = 0;
  let parts = 0;
  let bytes = 0;
  for (let head = await reader.nextPart(); head; head = await reader.nextPart()) {
    parts += 1;
    expect(head.index).toBe(parts - 1);
    for (let c = await reader.readBody(); c; c = await reader.readBody()) {
      expect(c.length).toBeGreaterThan(0);
      bytes += c.length;
      if (++calls > budget) throw new Error("reader keeps returning data beyond the size of its input");
    }
    if (++calls > budget) throw new Error("reader keeps returning parts beyond the size of its input");
  }
  await reader.drain();
  return { parts, bytes };
}

const delimiterish = (boundary: string) =>
  fc.constantFrom(`\r\n--${boundary}`, `\r\n--${boundary}--`, `--${boundary}\r\n`, "\r\n\r\n", "\r", "\n", "--", `\r\n--${boundary.slice(0, -1)}`).map((s) => Buffer.from(s, "latin1"));

describe("MultipartReader under hostile input (fuzz)", () => {
  it("reads or rejects mutated bodies in random chunks, never throwing anything else, never looping (10,000 cases)", async () => {
    const boundaryArb = fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/);
    await fc.assert(
      fc.asyncProperty(
        boundaryArb.chain((boundary) =>
          fc.record({
            boundary: fc.constant(boundary),
            bodies: fc.array(fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)), { maxLength: 4 }),
            mutations: fc.array(
              fc.oneof(
                fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
                fc.record({ kind: fc.constant("overwrite" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
                fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 32 }), delimiterish(boundary)) }),
              ),
              { maxLength: 4 },
            ),
            cuts: fc.array(fc.nat(3000), { maxLength: 30 }),
          }),
        ),
        async ({ boundary, bodies, mutations, cuts }) => {
          const data = mutate(build(bodies, boundary), mutations);
          try {
            const { bytes } = await readCounting(data, boundary, cuts);
            // Part data is a subset of the input: nothing is invented or duplicated.
            expect(bytes).toBeLessThanOrEqual(data.length);
          } catch (e) {
            expect(e).toBeInstanceOf(MultipartError);
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it("reports a body truncated anywhere as an error or as fewer parts, never as a longer part (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.array(fc.nat(1500), { maxLength: 20 }),
        async (bodies, at, cuts) => {
          fc.pre(bodies.every((b) => !b.includes("\r\n--tb")));
          const whole = build(bodies, "tb");
          const data = whole.subarray(0, at % whole.length);
          const reader = new MultipartReader(chunked(data, cuts), "tb");
          const seen: Buffer[] = [];
          try {
            for (let head = await reader.nextPart(); head; head = await reader.nextPart()) {
              const chunks: Buffer[] = [];
              for (let c = await reader.readBody(); c; c = await reader.readBody()) chunks.push(Buffer.from(c));
              seen.push(Buffer.concat(chunks));
            }
          } catch (e) {
            expect(e).toBeInstanceOf(MultipartError);
          }
          // Every part read to its end is exactly the part that was sent.
          seen.forEach((b, i) => expect(b.equals(bodies[i])).toBe(true));
        },
      ),
      { numRuns: 3_000 },
    );
  });
});
