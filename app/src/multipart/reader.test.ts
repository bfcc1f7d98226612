import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { chunked } from "../../test/support/chunked.js";
import { MULTIPART_LIMITS, MultipartError, MultipartReader } from "./reader.js";


interface ReadPart {
  headers: Record<string, string>;
  body: Buffer;
}

async function readAll(data: Buffer, boundary: string, cuts: number[] = []): Promise<ReadPart[]> {
  const reader = new MultipartReader(chunked(data, cuts), boundary);
  const parts: ReadPart[] = [];
  for (let head = await reader.nextPart(); head; head = await reader.nextPart()) {
    const chunks: Buffer[] = [];
    for (let c = await reader.readBody(); c; c = await reader.readBody()) chunks.push(Buffer.from(c));
    parts.push({ headers: Object.fromEntries(head.headers), body: Buffer.concat(chunks) });
  }
  return parts;
}

function build(bodies: Buffer[], boundary: string, { preamble = "", epilogue = "\r\n", padding = "" } = {}): Buffer {
  const out: Buffer[] = [Buffer.from(preamble, "latin1")];
  bodies.forEach((b, i) => {
    out.push(Buffer.from(`${i ? "\r\n" : ""}--${boundary}${padding}\r\nContent-Type: application/dicom\r\n\r\n`, "latin1"), b);
  });
  out.push(Buffer.from(`\r\n--${boundary}--${epilogue}`, "latin1"));
  return Buffer.concat(out);
}

describe("MultipartReader", () => {
  it("reads parts with their headers", async () => {
    const parts = await readAll(build([Buffer.from("one"), Buffer.from("two")], "b1"), "b1");
    expect(parts.map((p) => p.body.toString())).toEqual(["one", "two"]);
    expect(parts[0].headers["content-type"]).toBe("application/dicom");
  });

  it("accepts a leading CRLF and no CRLF after the close delimiter (dicomweb-client)", async () => {
    const parts = await readAll(build([Buffer.from("x")], "b", { preamble: "\r\n", epilogue: "" }), "b");
    expect(parts.map((p) => p.body.toString())).toEqual(["x"]);
  });

  it("ignores a preamble, transport padding and an epilogue", async () => {
    const data = build([Buffer.from("a"), Buffer.from("b")], "zz", { preamble: "This is a preamble.\r\n", padding: " \t", epilogue: "\r\nepilogue text" });
    expect((await readAll(data, "zz")).map((p) => p.body.toString())).toEqual(["a", "b"]);
  });

  it("handles a 73-character boundary (Orthanc)", async () => {
    const boundary = "x".repeat(73);
    expect((await readAll(build([Buffer.from("data")], boundary), boundary)).map((p) => p.body.toString())).toEqual(["data"]);
  });

  it("keeps boundary look-alikes and a trailing 0x0D inside data", async () => {
    const tricky = Buffer.from("A\r\n--bound\r\n--boundaryX\r\n--boundary-\r\n\r", "latin1");
    const parts = await readAll(build([tricky, Buffer.from("\r")], "boundary"), "boundary");
    expect(parts[0].body.equals(tricky)).toBe(true);
    expect(parts[1].body.equals(Buffer.from("\r"))).toBe(true);
  });

  it("reads a part with no headers and an empty part", async () => {
    const data = Buffer.from("--b\r\n\r\nno headers\r\n--b\r\nX-A: 1\r\n\r\n\r\n--b--", "latin1");
    const parts = await readAll(data, "b");
    expect(parts).toEqual([
      { headers: {}, body: Buffer.from("no headers") },
      { headers: { "x-a": "1" }, body: Buffer.alloc(0) },
    ]);
  });

  it("reads a delimiter followed at once by the close delimiter as one part with no headers and no data (.NET's empty MultipartContent)", async () => {
    // RFC 2046: body-part := MIME-part-headers [CRLF *OCTET], and both may be empty.
    for (const epilogue of ["\r\n", ""]) {
      expect(await readAll(Buffer.from(`--b\r\n\r\n--b--${epilogue}`, "latin1"), "b")).toEqual([{ headers: {}, body: Buffer.alloc(0) }]);
    }
    // Whatever the chunking, and also when a part follows.
    const data = Buffer.from("--bb\r\n\r\n--bb\r\nContent-Type: application/dicom\r\n\r\nx\r\n--bb--", "latin1");
    for (let cut = 0; cut <= data.length; cut++) {
      expect(await readAll(data, "bb", [cut, cut + 3])).toEqual([
        { headers: {}, body: Buffer.alloc(0) },
        { headers: { "content-type": "application/dicom" }, body: Buffer.from("x") },
      ]);
    }
  });

  it("still reports a body that ends right after the first delimiter line", async () => {
    await expect(readAll(Buffer.from("--b\r\n", "latin1"), "b")).rejects.toMatchObject({ kind: "truncated" });
    await expect(readAll(Buffer.from("--b\r\n\r\n--", "latin1"), "b")).rejects.toMatchObject({ kind: "truncated" });
    // As elsewhere, a close delimiter cut before its hyphens at the very end of the body counts.
    expect(await readAll(Buffer.from("--b\r\n\r\n--b", "latin1"), "b")).toEqual([{ headers: {}, body: Buffer.alloc(0) }]);
  });

  it("returns no parts for an empty multipart body", async () => {
    expect(await readAll(Buffer.from("--b--\r\n"), "b")).toEqual([]);
  });

  it("reports a body without any delimiter", async () => {
    await expect(readAll(Buffer.from("just some bytes"), "b")).rejects.toMatchObject({ kind: "framing" });
  });

  it("reports a body that stops inside a part", async () => {
    const data = Buffer.from("--b\r\nContent-Type: application/dicom\r\n\r\nhalf a part", "latin1");
    await expect(readAll(data, "b")).rejects.toBeInstanceOf(MultipartError);
    await expect(readAll(data, "b")).rejects.toMatchObject({ kind: "truncated" });
  });

  it("takes a close delimiter missing its final hyphens at the end of the body", async () => {
    const data = Buffer.from("--b\r\n\r\npart\r\n--b", "latin1");
    expect((await readAll(data, "b")).map((p) => p.body.toString())).toEqual(["part"]);
  });

  it("limits the size of part headers", async () => {
    const data = Buffer.from(`--b\r\nX-Big: ${"a".repeat(1 << 20)}\r\n\r\nx\r\n--b--`, "latin1");
    await expect(readAll(data, "b")).rejects.toMatchObject({ kind: "limit" });
  });

  it(`limits the headers of a part to ${MULTIPART_LIMITS.maxHeaderBytes} bytes however many lines they hold`, async () => {
    const lines = "X-A: b\r\n".repeat(MULTIPART_LIMITS.maxHeaderBytes / 8 + 1);
    await expect(readAll(Buffer.from(`--b\r\n${lines}\r\nx\r\n--b--`, "latin1"), "b")).rejects.toMatchObject({ kind: "limit" });
  });

  it(`limits the bytes before the first delimiter to ${MULTIPART_LIMITS.maxPreambleBytes}`, async () => {
    // As it arrives: bytes without a delimiter are not kept past the limit.
    const data = Buffer.from(`${"p".repeat(MULTIPART_LIMITS.maxPreambleBytes + 4096)}\r\n--b\r\n\r\nx\r\n--b--`, "latin1");
    const cuts = Array.from({ length: data.length / 1024 }, (_, i) => (i + 1) * 1024);
    await expect(readAll(data, "b", cuts)).rejects.toMatchObject({ kind: "framing" });
  });

  it(`reads at most ${MULTIPART_LIMITS.maxParts} parts, then refuses the next one`, async () => {
    const parts = (n: number) => build(Array.from({ length: n }, () => Buffer.alloc(0)), "b");
    expect(await readAll(parts(MULTIPART_LIMITS.maxParts), "b")).toHaveLength(MULTIPART_LIMITS.maxParts);
    await expect(readAll(parts(MULTIPART_LIMITS.maxParts + 1), "b")).rejects.toMatchObject({ kind: "parts" });
  });

  it("hands on data full of boundary look-alikes in whole chunks, not a few bytes at a time", async () => {
    const lookalike = Buffer.from("\r\n--bX", "latin1");
    const data = Buffer.alloc(1024 * 1024, 0x20);
    for (let at = 0; at + lookalike.length <= data.length; at += lookalike.length) lookalike.copy(data, at);
    const body = build([data], "b");
    const reader = new MultipartReader(chunked(body, Array.from({ length: 16 }, (_, i) => (i + 1) * 65_536)), "b");
    await reader.nextPart();
    let chunks = 0;
    const got: Buffer[] = [];
    for (let c = await reader.readBody(); c; c = await reader.readBody()) {
      chunks += 1;
      got.push(Buffer.from(c));
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);
    // About one chunk per chunk read (a look-alike cut by a chunk's end may split one more).
    expect(chunks).toBeLessThanOrEqual(2 * 17 + 2);
  });

  it("unfolds folded header lines", async () => {
    const data = Buffer.from("--b\r\nContent-Type: application/dicom;\r\n transfer-syntax=1.2.840.10008.1.2.1\r\n\r\nx\r\n--b--", "latin1");
    const [part] = await readAll(data, "b");
    expect(part.headers["content-type"]).toBe("application/dicom; transfer-syntax=1.2.840.10008.1.2.1");
  });

  it("reads the same parts whatever the chunking (property)", async () => {
    const boundaryArb = fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/);
    // Data is drawn from an alphabet rich in delimiter characters to provoke false matches.
    const bodyArb = fc
      .array(fc.constantFrom(0x0d, 0x0a, 0x2d, 0x41, 0x00, 0x62), { maxLength: 300 })
      .map((a) => Buffer.from(a));
    await fc.assert(
      fc.asyncProperty(
        boundaryArb,
        fc.array(bodyArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(2000), { maxLength: 40 }),
        fc.boolean(),
        async (boundary, bodies, cuts, leadingCrlf) => {
          // A boundary must not occur inside the data; the generator avoids it as a real client would.
          fc.pre(bodies.every((b) => !b.includes(`\r\n--${boundary}`)));
          const data = build(bodies, boundary, { preamble: leadingCrlf ? "\r\n" : "" });
          const parts = await readAll(data, boundary, cuts);
          expect(parts.map((p) => p.body.toString("hex"))).toEqual(bodies.map((b) => b.toString("hex")));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("never throws anything but MultipartError and never hangs on garbage (fuzz)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(700), { maxLength: 20 }),
        async (bytes, cuts) => {
          const withDelims = Buffer.concat([Buffer.from("--q\r\n"), Buffer.from(bytes), Buffer.from("\r\n--q")]);
          for (const data of [Buffer.from(bytes), withDelims]) {
            try {
              await readAll(data, "q", cuts);
            } catch (e) {
              expect(e).toBeInstanceOf(MultipartError);
            }
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
