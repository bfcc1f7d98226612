// What one instance's single PUT looks like on the wire with Amazon S3's settings (checksums on),
// recorded by a minimal S3 stand-in: the chunks must go as they arrived, unchanged, with the
// CRC32 and SHA-256 the upload computed while they streamed in.
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32 } from "node:zlib";
import { S3Client } from "@aws-sdk/client-s3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { createMetrics } from "../metrics.js";
import type { ConditionalWrites } from "./conditional-writes.js";
import { InstanceUpload } from "./instance-upload.js";
import { ObjectPutter, type S3Transport } from "./put-object.js";
import { ChunkedBodyHttpHandler, reuseInstanceHash, s3Transport } from "./s3-client.js";

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let server: Server;
let endpoint: string;
const recorded: Recorded[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => {
      recorded.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(parts) });
      if (req.method === "HEAD") res.writeHead(404).end();
      else res.writeHead(200, { ETag: '"e"' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** createS3Client's client for Amazon S3, pointed at the recorder. */
function awsLikeClient(): { client: S3Client; transport: S3Transport } {
  const transport = s3Transport(loadConfig({ S3_BUCKET: "dicom" }));
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    // As createS3Client configures Amazon S3 itself.
    requestChecksumCalculation: "WHEN_SUPPORTED",
    responseChecksumValidation: "WHEN_SUPPORTED",
    requestHandler: new ChunkedBodyHttpHandler({ httpAgent: transport.httpAgent, httpsAgent: transport.httpsAgent }),
  });
  reuseInstanceHash(client);
  return { client, transport };
}

describe("a single-PUT instance with S3 checksums on", () => {
  it("goes out as one plain PUT of the bytes as received, with their CRC32 and SHA-256", async () => {
    const { client, transport } = awsLikeClient();
    const chunks = [Buffer.alloc(70_000, 1), Buffer.alloc(1, 0x0d), Buffer.from("--lookalike\r\n"), Buffer.alloc(300_000, 7)];
    const whole = Buffer.concat(chunks);
    const upload = new InstanceUpload(
      {
        storage: { client, bucket: "dicom", putter: new ObjectPutter(client, "dicom", transport), amazonS3: true, conditionalWrites: { usable: () => false, completionsUsable: () => false } as ConditionalWrites },
        config: { upload: { partSizeBytes: 5 * 1024 * 1024, partConcurrency: 1 }, duplicatePolicy: "overwrite" },
        metrics: createMetrics(),
      },
      "1.2/3.4/5.6.dcm",
      { sopClassUid: "1.2.840.10008.5.1.4.1.1.2", transferSyntaxUid: "1.2.840.10008.1.2.1" },
      { log: pino({ level: "silent" }) },
    );
    for (const c of chunks) await upload.write(c);
    const result = await upload.finish();
    expect(result.stored ? "" : result.message).toBe("");
    client.destroy();

    const sha256 = createHash("sha256").update(whole).digest("hex");
    expect(result).toMatchObject({ stored: true, bytes: whole.length, sha256 });
    const puts = recorded.filter((r) => r.method === "PUT");
    expect(puts).toHaveLength(1);
    const put = puts[0];
    expect(put.url.split("?")[0]).toBe("/dicom/1.2/3.4/5.6.dcm");
    expect(put.body.equals(whole)).toBe(true);
    expect(put.headers["content-length"]).toBe(String(whole.length));
    expect(put.headers["content-encoding"] ?? "").not.toMatch(/aws-chunked/);
    expect(put.headers["x-amz-content-sha256"]).toBe(sha256);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(whole));
    expect(put.headers["x-amz-checksum-crc32"]).toBe(crc.toString("base64"));
    expect(put.headers["x-amz-meta-sha256"]).toBe(sha256);
    expect(put.headers["content-type"]).toBe("application/dicom");
  });
});
