import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const moduleUrl = new URL("./young-garbage.ts", import.meta.url).href;

// Counts the minor GCs that ten calls cause, in a fresh node started with the given flags.
const probe = `
import { PerformanceObserver, constants } from "node:perf_hooks";
const { collectYoungGarbage, youngGarbageCollectable } = await import(${JSON.stringify(moduleUrl)});
const kinds = [];
const observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) kinds.push(e.detail.kind); });
observer.observe({ entryTypes: ["gc"] });
await new Promise((r) => setTimeout(r, 50));
kinds.length = 0;
for (let i = 0; i < 10; i++) collectYoungGarbage();
await new Promise((r) => setTimeout(r, 50));
observer.disconnect();
console.log(JSON.stringify({ collectable: youngGarbageCollectable, minor: kinds.filter((k) => k === constants.NODE_PERFORMANCE_GC_MINOR).length }));
`;

function runProbe(flags: string[]): { collectable: boolean; minor: number } {
  const out = spawnSync(process.execPath, [...flags, "--import", "tsx", "--input-type=module", "-e", probe], {
    cwd: fileURLToPath(new URL("../../..", import.meta.url)),
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(out.status, out.stderr).toBe(0);
  return JSON.parse(out.stdout.trim().split("\n").pop()!);
}

describe("collectYoungGarbage", () => {
  it("runs a scavenge (a minor GC) each time it is called when node started with --expose-gc, as the image does", () => {
    const result = runProbe(["--expose-gc"]);
    expect(result.collectable).toBe(true);
    expect(result.minor).toBeGreaterThanOrEqual(10);
  });

  it("does nothing, and fails nothing, in a node started without the flag", () => {
    const result = runProbe([]);
    expect(result.collectable).toBe(false);
    expect(result.minor).toBeLessThan(10);
  });
});
