// A multipart upload, against a minimal S3 stand-in that answers parts late: the parts arrive
// whole and in order of their numbers, through a fixed number of reused part buffers; and on an
// abort, S3 is asked to drop the parts only once no part upload is left in flight (a part that
// lands after the abort would stay).
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { embeddedStoreClient } from "../../test/support/s3rver.js";
import { createMetrics } from "../metrics.js";
import type { ConditionalWrites } from "./conditional-writes.js";
import { MultipartStream } from "./multipart-stream.js";
import type { S3Target } from "./s3-target.js";

const PART = 5 * 1024 * 1024;
const PART_DELAY_MS = 400;

let server: Server;
let endpoint: string;
const events: Array<{ at: number; what: string }> = [];
let partsReceived = 0;
const partBodies = new Map<number, Buffer>();
let completed: string | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    const body: Buffer[] = [];
    req.on("data", (d: Buffer) => body.push(d));
    req.on("end", () => {
      const url = new URL(req.url!, "http://x");
      if (req.method === "POST" && url.searchParams.has("uploads")) {
        res.writeHead(200, { "Content-Type": "application/xml" });
        res.end(`<?xml version="1.0"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`);
      } else if (req.method === "PUT" && url.searchParams.has("partNumber")) {
        partsReceived++;
        partBodies.set(Number(url.searchParams.get("partNumber")), Buffer.concat(body));
        setTimeout(() => {
          events.push({ at: performance.now(), what: `part ${url.searchParams.get("partNumber")} answered` });
          res.writeHead(200, { ETag: '"p"' }).end();
        }, PART_DELAY_MS);
      } else if (req.method === "POST" && url.searchParams.has("uploadId")) {
        completed = Buffer.concat(body).toString();
        res.writeHead(200, { "Content-Type": "application/xml" });
        res.end(`<?xml version="1.0"?><CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>"x"</ETag></CompleteMultipartUploadResult>`);
      } else if (req.method === "DELETE" && url.searchParams.has("uploadId")) {
        events.push({ at: performance.now(), what: "abort" });
        res.writeHead(204).end();
      } else res.writeHead(501).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
afterEach(() => {
  events.length = 0;
  partsReceived = 0;
  partBodies.clear();
  completed = undefined;
  vi.restoreAllMocks();
});

function streamFor(partConcurrency: number) {
  const client = embeddedStoreClient(endpoint);
  const metrics = createMetrics();
  const settings = {
    // A multipart upload has no use for the single-PUT putter.
    storage: { client, bucket: "b", amazonS3: false, conditionalWrites: { usable: () => false, completionsUsable: () => false } as ConditionalWrites } as S3Target,
    config: { upload: { partSizeBytes: PART, partConcurrency }, duplicatePolicy: "overwrite" as const },
    metrics,
  };
  return { client, metrics, settings };
}

describe("MultipartStream", () => {
  it("sends every part whole and in order, through UPLOAD_PART_CONCURRENCY + 1 part buffers, and completes", async () => {
    const made = vi.spyOn(Buffer, "allocUnsafeSlow");
    const { client, settings } = streamFor(2);
    // 4 parts and a bit, in chunks of odd sizes, the first part's worth handed over at the start.
    const instance = Buffer.alloc(4 * PART + 12_345);
    for (let i = 0; i + 4 <= instance.length; i += 4) instance.writeUInt32LE(i, i);
    const first = [instance.subarray(0, PART - 1000), instance.subarray(PART - 1000, PART + 70_001)];
    const stream = new MultipartStream(settings, "1.2/3.4/5.6.dcm", { "sop-class-uid": "1.2" }, first, pino({ level: "silent" }));
    for (let at = PART + 70_001; at < instance.length; at += 65_537) expect(await stream.write(instance.subarray(at, at + 65_537))).toBe(true);
    await stream.end();
    client.destroy();

    expect(stream.failure).toBeUndefined();
    expect([...partBodies.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
    const sent = Buffer.concat([1, 2, 3, 4, 5].map((n) => partBodies.get(n)!));
    expect(createHash("sha256").update(sent).digest("hex")).toBe(createHash("sha256").update(instance).digest("hex"));
    expect(partBodies.get(5)!.length).toBe(12_345);
    expect(completed).toMatch(/<PartNumber>1<\/PartNumber>[\s\S]*<PartNumber>5<\/PartNumber>/);
    expect(made.mock.calls.filter(([size]) => size === PART)).toHaveLength(3);
  });

  it("asks S3 to drop the parts only after the part uploads in flight have ended", async () => {
    const { client, metrics, settings } = streamFor(2);
    const stream = new MultipartStream(settings, "1.2/3.4/5.6.dcm", {}, [Buffer.alloc(PART, 1)], pino({ level: "silent" }));
    await stream.write(Buffer.alloc(PART, 2));
    await stream.write(Buffer.alloc(1, 3));
    while (partsReceived < 2) await new Promise((r) => setTimeout(r, 10));
    await stream.abort();
    client.destroy();

    const abort = events.find((e) => e.what === "abort");
    expect(abort, JSON.stringify(events)).toBeDefined();
    expect(events.filter((e) => e.what === "abort")).toHaveLength(1);
    const parts = events.filter((e) => e.what.startsWith("part"));
    expect(parts).toHaveLength(2);
    for (const p of parts) expect(p.at).toBeLessThan(abort!.at);
    expect((await metrics.registry.getSingleMetricAsString("stowrs_upload_aborts_total")).trim().split("\n").at(-1)).toBe("stowrs_upload_aborts_total 1");
  });
});
