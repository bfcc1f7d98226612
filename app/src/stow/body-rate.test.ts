import { describe, expect, it } from "vitest";
import { ArrivalRate, BodyTooSlow, rateLimitedBody } from "./body-rate.js";

const LIMIT = { minBytesPerSecond: 1000, windowMs: 10_000 };

describe("ArrivalRate", () => {
  it("gives a new body one window to deliver a window's worth", () => {
    const rate = new ArrivalRate(LIMIT);
    expect(rate.patienceMs()).toBe(10_000);
    rate.arrived(4_000, 9_999);
    expect(rate.patienceMs()).toBe(6_000);
    // Enough for the first window; the window ending one window after the first arrival holds only the second.
    rate.arrived(1_000, 1);
    expect(rate.patienceMs()).toBe(9_000);
  });

  it("cuts a trickle (one byte a second) after one window, whatever it sent", () => {
    const rate = new ArrivalRate(LIMIT);
    for (let s = 0; s < 9; s++) rate.arrived(1_000, 1);
    expect(rate.patienceMs()).toBe(1_000);
  });

  it("after a burst, allows a stall of one window from the burst, not more", () => {
    const rate = new ArrivalRate(LIMIT);
    rate.arrived(100, 50_000_000);
    expect(rate.patienceMs()).toBe(10_000);
    rate.waitedWithoutBytes(9_000);
    expect(rate.patienceMs()).toBe(1_000);
  });

  it("keeps a client at exactly the minimum, and cuts one a little below it", () => {
    const steady = new ArrivalRate(LIMIT);
    const slower = new ArrivalRate(LIMIT);
    let cutAt: number | undefined;
    for (let ms = 0; ms < 120_000; ms += 100) {
      expect(steady.patienceMs()).toBeGreaterThan(0);
      steady.arrived(100, 100);
      if (cutAt === undefined && slower.patienceMs() < 100) cutAt = ms + slower.patienceMs();
      slower.arrived(100, 90);
    }
    // 90 % of the minimum: the first window already falls short.
    expect(cutAt).toBe(10_000);
  });

  it("keeps a bounded number of arrivals whatever the chunk size", () => {
    const rate = new ArrivalRate(LIMIT);
    for (let i = 0; i < 100_000; i++) rate.arrived(1, 1_000);
    expect((rate as unknown as { arrivals: unknown[] }).arrivals.length).toBeLessThanOrEqual(33);
    expect(rate.patienceMs()).toBeGreaterThan(9_000);
  });
});

/** A body source that hands out the given chunks after the given delays (ms). */
function timedSource(steps: Array<[number, number]>): AsyncIterator<Uint8Array> {
  let i = 0;
  return {
    async next() {
      const step = steps[i++];
      if (!step) return { done: true, value: undefined };
      await new Promise((r) => setTimeout(r, step[0]));
      return { done: false, value: new Uint8Array(step[1]) };
    },
  };
}

describe("rateLimitedBody", () => {
  it("passes a body that keeps up, and cuts one that stalls, failing every later read too", async () => {
    const limit = { minBytesPerSecond: 1000, windowMs: 300 };
    const good = rateLimitedBody(timedSource([[10, 1000], [10, 1000], [10, 1000]]), limit);
    let bytes = 0;
    for (let r = await good.next(); !r.done; r = await good.next()) bytes += r.value.byteLength;
    expect(bytes).toBe(3000);

    // Cut after the 300 ms window, long before the stalled chunk would come (4 s): the bound
    // between the two leaves a loaded machine its slack.
    const stalling = rateLimitedBody(timedSource([[10, 1000], [4_000, 1000]]), limit);
    expect((await stalling.next()).done).toBe(false);
    const t0 = performance.now();
    await expect(stalling.next()).rejects.toBeInstanceOf(BodyTooSlow);
    expect(performance.now() - t0).toBeLessThan(2_000);
    await expect(stalling.next()).rejects.toBeInstanceOf(BodyTooSlow);
  });

  it("does not count the time the reader spends elsewhere (backpressure)", async () => {
    const limit = { minBytesPerSecond: 1000, windowMs: 200 };
    // Each chunk comes 20 ms after it is asked for, but the reader asks only every 300 ms, longer
    // than the window: counted on the wall clock, the second read would already be too late.
    const body = rateLimitedBody(timedSource([[20, 300], [20, 300], [20, 300]]), limit);
    let bytes = 0;
    for (let r = await body.next(); !r.done; r = await body.next()) {
      bytes += r.value.byteLength;
      await new Promise((res) => setTimeout(res, 300));
    }
    expect(bytes).toBe(900);
  });

  it("is the source itself when the check is off", () => {
    const source = timedSource([]);
    expect(rateLimitedBody(source, { minBytesPerSecond: 0, windowMs: 1000 })).toBe(source);
  });
});
