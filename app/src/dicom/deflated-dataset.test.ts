import { constants as zlib, deflateRawSync, inflateRawSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeflatedDataset } from "./deflated-dataset.js";

async function feed(dataset: DeflatedDataset, chunks: Buffer[], end = true) {
  for (const c of chunks) await dataset.write(c);
  if (end) await dataset.end();
  return dataset.view();
}

const split = (data: Buffer, size: number) => Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size));

describe("DeflatedDataset", () => {
  it("inflates a deflate stream fed in any chunking to what a one-shot inflate gives (property)", async () => {
    const plain = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7 + (i >> 9) + ((i * i) >> 5)) & 0xff));
    const deflated = deflateRawSync(plain);
    expect(deflated.length).toBeGreaterThan(20_000);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 256, max: 20_000 }), async (size) => {
        const view = await feed(new DeflatedDataset(), split(deflated, size));
        expect(view).toMatchObject({ complete: true, overBudget: false });
        expect(view.bytes.equals(plain)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it("inflates a stream fed a byte at a time", async () => {
    const plain = Buffer.from("a short data set, ".repeat(20));
    expect((await feed(new DeflatedDataset(), split(deflateRawSync(plain), 1))).bytes).toEqual(plain);
  });

  it("stops at its budget of inflated bytes, keeping exactly the first ones", async () => {
    const zeros = deflateRawSync(Buffer.alloc(32 * 1024 * 1024)); // some 32 KiB
    const dataset = new DeflatedDataset(1024 * 1024);
    const view = await feed(dataset, split(zeros, 1024), false);
    expect(view.overBudget).toBe(true);
    expect(view.complete).toBe(false);
    expect(view.bytes.length).toBe(1024 * 1024);
    expect(dataset.open).toBe(false);
    // Further input is not inflated.
    await dataset.write(zeros);
    expect(dataset.view().bytes.length).toBe(1024 * 1024);
  });

  it("stops at its budget of compressed bytes when they inflate to nothing (empty stored blocks)", async () => {
    const empty = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
    const dataset = new DeflatedDataset(64 * 1024);
    const view = await feed(dataset, Array.from({ length: 20_000 }, () => empty), false);
    expect(view).toMatchObject({ overBudget: true, complete: false });
    expect(view.bytes.length).toBe(0);
  });

  it("keeps what earlier writes inflated when the stream turns out corrupt, and says why", async () => {
    const start = deflateRawSync(Buffer.from("the start of the data set"), { finishFlush: zlib.Z_SYNC_FLUSH });
    const view = await feed(new DeflatedDataset(), [start, Buffer.from([0xff, 0xff, 0xff])], false);
    expect(view.bytes.toString()).toBe("the start of the data set");
    expect(view).toMatchObject({ complete: true, overBudget: false });
    expect(view.error).toMatch(/invalid/i);
  });

  it("reports a stream cut off by the end of the part", async () => {
    const whole = deflateRawSync(Buffer.alloc(10_000, 1));
    const view = await feed(new DeflatedDataset(), [whole.subarray(0, whole.length - 3)]);
    expect(view.complete).toBe(true);
    expect(view.error).toBeDefined();
    expect(view.bytes.length).toBeLessThan(10_000);
  });

  it("ends the data set where the deflate stream ends, ignoring bytes after it", async () => {
    const plain = Buffer.from("all of it");
    const view = await feed(new DeflatedDataset(), [deflateRawSync(plain), Buffer.from("trailing padding")], false);
    expect(view).toMatchObject({ complete: true, overBudget: false });
    expect(view.bytes).toEqual(plain);
    expect(inflateRawSync(deflateRawSync(plain))).toEqual(plain);
  });
});
