import { describe, expect, it } from "vitest";
import { Semaphore } from "./semaphore.js";

describe("Semaphore", () => {
  it("admits up to its capacity and hands slots over in order", async () => {
    const s = new Semaphore(2);
    const first = await s.acquire();
    const second = s.tryAcquire();
    expect(second).not.toBeNull();
    expect(s.tryAcquire()).toBeNull();
    const order: number[] = [];
    const a = s.acquire().then((p) => (order.push(1), p));
    const b = s.acquire().then((p) => (order.push(2), p));
    first.release();
    const third = await a;
    expect(order).toEqual([1]);
    expect(s.tryAcquire()).toBeNull();
    second!.release();
    const fourth = await b;
    expect(order).toEqual([1, 2]);
    third.release();
    fourth.release();
    expect(s.inUse).toBe(0);
  });

  it("gives a slot back once, however often its permit is released", () => {
    const s = new Semaphore(1);
    const p = s.tryAcquire()!;
    p.release();
    p.release();
    expect(s.inUse).toBe(0);
    const q = s.tryAcquire()!;
    p.release();
    expect(s.inUse).toBe(1);
    expect(s.tryAcquire()).toBeNull();
    q.release();
    expect(s.inUse).toBe(0);
  });
});
