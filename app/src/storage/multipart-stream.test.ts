// Aborting a multipart upload while parts are on their way: S3 is asked to drop the parts only
// once no part upload is left in flight (lib-storage does not cancel them, and a part that
// lands after the abort would stay). Recorded by a minimal S3 stand-in that answers parts late.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetrics } from "../metrics.js";
import type { ConditionalWrites } from "./conditional-writes.js";
import { MultipartStream, RequestsInFlight } from "./multipart-stream.js";

const PART = 5 * 1024 * 1024;
const PART_DELAY_MS = 400;

let server: Server;
let endpoint: string;
const events: Array<{ at: number; what: string }> = [];
let partsReceived = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const url = new URL(req.url!, "http://x");
      if (req.method === "POST" && url.searchParams.has("uploads")) {
        res.writeHead(200, { "Content-Type": "application/xml" });
        res.end(`<?xml version="1.0"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`);
      } else if (req.method === "PUT" && url.searchParams.has("partNumber")) {
        partsReceived++;
        setTimeout(() => {
          events.push({ at: performance.now(), what: `part ${url.searchParams.get("partNumber")} answered` });
          res.writeHead(200, { ETag: '"p"' }).end();
        }, PART_DELAY_MS);
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

describe("MultipartStream", () => {
  it("asks S3 to drop the parts only after the part uploads in flight have ended", async () => {
    const client = new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const metrics = createMetrics();
    const settings = {
      s3: { client, bucket: "b", checksums: false, conditionalWrites: { usable: () => false } as ConditionalWrites },
      partSizeBytes: PART,
      partConcurrency: 2,
      duplicatePolicy: "overwrite" as const,
      metrics,
    };
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

  it("waits for requests sent through the tracked client, and only those", async () => {
    let finish!: () => void;
    const slow = new Promise<void>((r) => (finish = r));
    const fake = { send: () => slow, config: { marker: 1 } } as unknown as S3Client;
    const inFlight = new RequestsInFlight();
    const tracked = inFlight.tracking(fake);
    expect((tracked as unknown as { config: { marker: number } }).config.marker).toBe(1);
    void tracked.send({} as never);
    let settled = false;
    const waiting = inFlight.settled().then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    finish();
    await waiting;
    expect(settled).toBe(true);
  });
});
