import { describe, expect, it } from "vitest";
import { Semaphore } from "./semaphore.js";

describe("Semaphore", () => {
  it("admits up to its capacity and hands slots over in order", async () => {
    const s = new Semaphore(2);
    await s.acquire();
    expect(s.tryAcquire()).toBe(true);
    expect(s.tryAcquire()).toBe(false);
    const order: number[] = [];
    const a = s.acquire().then(() => order.push(1));
    const b = s.acquire().then(() => order.push(2));
    s.release();
    await a;
    expect(order).toEqual([1]);
    expect(s.tryAcquire()).toBe(false);
    s.release();
    await b;
    expect(order).toEqual([1, 2]);
    s.release();
    s.release();
    expect(s.inUse).toBe(0);
  });
});
