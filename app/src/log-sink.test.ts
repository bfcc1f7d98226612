import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogSink } from "./log-sink.js";

const line = (n: number) => `${JSON.stringify({ n, msg: "x".repeat(90) })}\n`;

/** A stdout whose reader takes nothing until `read()` is called. */
function stalledStdout() {
  const out = new PassThrough({ highWaterMark: 1024 });
  const received: string[] = [];
  return { out, received, read: () => out.on("data", (d: Buffer) => received.push(d.toString())) };
}

describe("log sink", () => {
  it("holds at most its backlog while nobody reads, drops and counts the rest, and says so once the reader is back", async () => {
    const { out, received, read } = stalledStdout();
    const sink = createLogSink(out, { maxBufferedBytes: 10_000, base: { service: "test" } });
    for (let n = 0; n < 1_000; n++) sink.write(line(n));
    expect(out.writableLength).toBeLessThanOrEqual(10_000 + 200);
    expect(sink.dropped()).toBeGreaterThan(850);
    const dropped = sink.dropped();

    read();
    expect(await sink.flush(1_000)).toBe(true);
    sink.write(line(1_000));
    await sink.flush(1_000);
    const lines = received.join("").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.at(-2)).toMatchObject({ level: "warn", service: "test", linesDropped: dropped, msg: "log lines dropped: stdout was not being read" });
    expect(lines.at(-1)).toMatchObject({ n: 1_000 });
    // What was kept is in order and whole.
    expect(lines.slice(0, -2).map((l) => l.n)).toEqual([...Array(lines.length - 2).keys()]);
  });

  it("gives the final flush a deadline when nobody reads", async () => {
    const { out } = stalledStdout();
    const sink = createLogSink(out);
    for (let n = 0; n < 100; n++) sink.write(line(n));
    const t0 = performance.now();
    expect(await sink.flush(200)).toBe(false);
    // Without a deadline it would never return; the bound leaves a loaded machine its slack.
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it("drops (and counts) everything once stdout has failed (its reader gone), without throwing", async () => {
    const out = new Writable({ write: (_chunk, _enc, done) => done(Object.assign(new Error("write EPIPE"), { code: "EPIPE" })) });
    const sink = createLogSink(out);
    sink.write(line(1));
    await new Promise((r) => setImmediate(r));
    sink.write(line(2));
    sink.write(line(3));
    expect(sink.dropped()).toBe(2);
    expect(await sink.flush(100)).toBe(false);
  });
});
