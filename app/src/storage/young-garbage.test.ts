import { PerformanceObserver, constants } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { collectYoungGarbage } from "./young-garbage.js";

describe("collectYoungGarbage", () => {
  it("runs a scavenge (a minor GC) each time it is called", async () => {
    const kinds: number[] = [];
    const observer = new PerformanceObserver((list) => {
      // A gc entry's detail (its kind) is missing from @types/node 20's PerformanceEntry.
      for (const entry of list.getEntries()) kinds.push((entry as PerformanceEntry & { detail: { kind: number } }).detail.kind);
    });
    observer.observe({ entryTypes: ["gc"] });
    await new Promise((r) => setTimeout(r, 50));
    kinds.length = 0;
    for (let i = 0; i < 10; i++) collectYoungGarbage();
    await new Promise((r) => setTimeout(r, 50));
    observer.disconnect();
    expect(kinds.filter((k) => k === constants.NODE_PERFORMANCE_GC_MINOR).length).toBeGreaterThanOrEqual(10);
    // The flag that made the collector reachable is off again.
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe("undefined");
  });
});
