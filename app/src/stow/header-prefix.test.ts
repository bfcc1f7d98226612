import { constants as zlib, deflateRawSync } from "node:zlib";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { deflateBombInstance } from "../../test/support/deflate-bomb.js";
import { buildInstance, newInstanceUids } from "../../test/support/dicom.js";
import { readHeaderOf } from "../../test/support/header-reading.js";
import { TS } from "../../test/support/transfer-syntaxes.js";
import { DeflatedDataset } from "../dicom/deflated-dataset.js";
import { MAX_HEADER_BYTES } from "../dicom/header.js";
import { HeaderPrefix } from "./header-prefix.js";
import type { PartReader } from "./part-reader.js";

/** One part, delivered in the given chunks. */
class ChunkReader implements PartReader {
  private readonly chunks: Iterator<Buffer>;
  /** Bytes handed out. */
  read = 0;
  constructor(chunks: Iterable<Buffer>) {
    this.chunks = chunks[Symbol.iterator]();
  }
  async nextPart() {
    return null;
  }
  async readBody(): Promise<Buffer | null> {
    const next = this.chunks.next();
    if (next.done) return null;
    this.read += next.value.length;
    return next.value;
  }
  async skipBody() {}
  async drain() {}
}

function cut(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of [...points, data.length]) {
    if (p > last) out.push(data.subarray(last, p));
    last = p;
  }
  return out;
}

/** Splits a stream of chunks into pieces of at most `size` bytes, as a socket would deliver them. */
function* pieces(chunks: Iterable<Buffer>, size: number): Generator<Buffer> {
  for (const c of chunks) for (let at = 0; at < c.length; at += size) yield c.subarray(at, at + size);
}

async function readPrefix(chunks: Iterable<Buffer>): Promise<{ prefix: HeaderPrefix; reader: ChunkReader }> {
  const reader = new ChunkReader(chunks);
  const prefix = new HeaderPrefix();
  await prefix.read(reader);
  return { prefix, reader };
}

afterEach(() => vi.restoreAllMocks());

describe("HeaderPrefix", () => {
  it("reads a deflated instance in any chunking with the answer of a one-shot read (property)", async () => {
    const instances = [0, 1, 2].map(() => buildInstance({ ...newInstanceUids(), transferSyntax: TS.deflatedExplicitVRLittleEndian, pixels: 300_000 }));
    const expected = instances.map((data) => readHeaderOf(data, true));
    for (const r of expected) expect(r.kind).toBe("ok");
    await fc.assert(
      fc.asyncProperty(fc.nat(instances.length - 1), fc.array(fc.nat(400_000), { maxLength: 20 }), async (i, cuts) => {
        const { prefix } = await readPrefix(cut(instances[i], cuts));
        expect(prefix.header).toEqual(expected[i]);
      }),
      { numRuns: 200 },
    );
  });

  it("stops a deflate bomb (1 GiB of zeros before Study Instance UID) at MAX_HEADER_BYTES inflated: 'header too large after inflation', each compressed byte inflated once", async () => {
    const bomb = deflateBombInstance(1024 * 1024 * 1024);
    const written = vi.spyOn(DeflatedDataset.prototype, "write");
    const views = vi.spyOn(DeflatedDataset.prototype, "view");
    const { prefix, reader } = await readPrefix(pieces(bomb.chunks(), 64 * 1024));
    expect(prefix.header).toMatchObject({ kind: "invalid", problem: "unreadable", partial: { sopInstanceUid: bomb.uids.sopInstanceUid } });
    expect(prefix.header.kind === "invalid" && prefix.header.message).toMatch(/^header too large after inflation/);
    // 4 MiB come out of some 4 KiB: the reader stops after a chunk or two, not at the end of the part.
    expect(reader.read).toBeLessThanOrEqual(128 * 1024);
    expect(bomb.size).toBeGreaterThan(1_000_000);
    for (const r of views.mock.results) expect((r.value as { bytes: Buffer }).bytes.length).toBeLessThanOrEqual(MAX_HEADER_BYTES);
    // No byte is inflated twice: what went into the inflater is the data set's bytes read, once.
    const metaEnd = 144 + [...bomb.chunks()][0]!.readUInt32LE(140);
    const fed = written.mock.calls.reduce((n, [chunk]) => n + chunk.length, 0);
    expect(fed).toBe(reader.read - metaEnd);
  });

  it("reads a deflated instance whose pixel data inflates past MAX_HEADER_BYTES from its start, without inflating the rest", async () => {
    const uids = newInstanceUids();
    const template = buildInstance({ ...uids, transferSyntax: TS.deflatedExplicitVRLittleEndian, pixels: 8 * 1024 * 1024 });
    const spy = vi.spyOn(DeflatedDataset.prototype, "view");
    const { prefix, reader } = await readPrefix(pieces([template], 16 * 1024));
    expect(prefix.header).toMatchObject({ kind: "ok", header: uids });
    expect(reader.read).toBeLessThan(template.length / 4);
    for (const r of spy.mock.results) expect((r.value as { bytes: Buffer }).bytes.length).toBeLessThan(MAX_HEADER_BYTES);
  });

  it("asks for its slots (beforeGrowing) before it inflates anything: inflating can outgrow the first attempt's bytes at once", async () => {
    const bomb = deflateBombInstance(64 * 1024 * 1024);
    const events: string[] = [];
    vi.spyOn(DeflatedDataset.prototype, "write").mockImplementation(async function (this: DeflatedDataset) {
      events.push("inflate");
    });
    const prefix = new HeaderPrefix();
    await prefix.read(new ChunkReader(pieces(bomb.chunks(), 64 * 1024)), async () => void events.push("slots"));
    expect(events[0]).toBe("slots");
    expect(events.filter((e) => e === "slots")).toHaveLength(1);
  });

  it("cuts off a deflate stream of empty blocks (no output) at MAX_HEADER_BYTES of compressed input", async () => {
    const meta = buildInstance({ transferSyntax: TS.deflatedExplicitVRLittleEndian, pixels: 2 });
    const head = meta.subarray(0, 144 + meta.readUInt32LE(140));
    // Stored blocks of length 0, not final: 5 bytes each, nothing inflated.
    const empty = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
    const block = Buffer.concat(Array.from({ length: 13_108 }, () => empty)); // 64 KiB
    function* body() {
      yield head;
      for (let i = 0; i < 200; i++) yield block; // 12.5 MiB of nothing
    }
    const { prefix, reader } = await readPrefix(body());
    expect(prefix.header).toMatchObject({ kind: "invalid", problem: "unreadable" });
    expect(prefix.header.kind === "invalid" && prefix.header.message).toMatch(/^header too large after inflation/);
    expect(reader.read).toBeLessThanOrEqual(MAX_HEADER_BYTES + 2 * block.length);
  });

  it("fails a deflate stream that is corrupt or cut off before the UIDs as unreadable", async () => {
    const uids = newInstanceUids();
    const whole = buildInstance({ ...uids, transferSyntax: TS.deflatedExplicitVRLittleEndian, pixels: 20_000 });
    const meta = whole.subarray(0, 144 + whole.readUInt32LE(140));
    const plain = buildInstance({ ...uids, transferSyntax: TS.explicitVRLittleEndian, pixels: 20_000 });
    const dataset = plain.subarray(144 + plain.readUInt32LE(140));
    const early = deflateRawSync(dataset.subarray(0, 40), { finishFlush: zlib.Z_SYNC_FLUSH });
    const corrupt = await readPrefix([meta, early, Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    expect(corrupt.prefix.header).toMatchObject({ kind: "invalid", problem: "unreadable" });
    const cutShort = await readPrefix([whole.subarray(0, meta.length + 20)]);
    expect(cutShort.prefix.header).toMatchObject({ kind: "invalid", problem: "unreadable" });
  });
});
