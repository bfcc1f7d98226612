// The PutObject path without the SDK's middleware: it must answer as the SDK would (errors named
// and classified alike, retries by the client's own strategy, timeouts, clock skew corrected),
// and leave to the SDK the endpoints plain SigV4 does not sign for; and sign exactly as the SDK
// signs the same PutObject. Against a scripted stand-in.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { FinalizeHandler, FinalizeHandlerArguments } from "@smithy/types";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../config.js";
import { createMetrics } from "../metrics.js";
import { ChunkedBody } from "./chunked-body.js";
import { ObjectPutter } from "./put-object.js";
import { createS3Client, s3Transport } from "./s3-client.js";
import { createS3Target } from "./s3-target.js";

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;
let server: Server;
let endpoint: string;
let handlers: Handler[] = [];
const seen: Array<{ url: string; headers: IncomingMessage["headers"]; body: Buffer }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => {
      const body = Buffer.concat(parts);
      seen.push({ url: req.url!, headers: req.headers, body });
      const handler = handlers.shift() ?? ((_req, _body, r) => r.writeHead(200, { ETag: '"e"' }).end());
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
afterEach(() => {
  handlers = [];
  seen.length = 0;
});

const s3Answer = (status: number, code: string, headers: Record<string, string> = {}): Handler => (_req, _body, res) => {
  res.writeHead(status, { "Content-Type": "application/xml", ...headers });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code} happened</Message><RequestId>R1</RequestId></Error>`);
};

/** The service's S3 target (client and putter, as server.ts builds them) for the stand-in. */
function putter(env: Record<string, string> = {}, bucket = "dicom") {
  const config = loadConfig({ S3_BUCKET: bucket, S3_ENDPOINT: endpoint, S3_FORCE_PATH_STYLE: "true", S3_MAX_ATTEMPTS: "3", ...env });
  const metrics = createMetrics();
  const target = createS3Target(config, bucket, { credentials: { accessKeyId: "a", secretAccessKey: "b" }, log: pino({ level: "silent" }), latency: metrics.s3Requests });
  return { client: target.client, metrics, putter: target.putter };
}

const input = (over: Partial<Parameters<ObjectPutter["put"]>[0]> = {}) => ({
  key: "1.2/3.4/5.6.dcm",
  body: Buffer.from("instance bytes"),
  sha256: "a".repeat(64),
  metadata: { sha256: "a".repeat(64), "sop-class-uid": "1.2.3" },
  ifNoneMatch: true,
  ...over,
});

describe("ObjectPutter", () => {
  it("sends one signed PUT with the metadata, the condition and the bytes as given, chunks included", async () => {
    const { client, metrics, putter: p } = putter();
    await p.put(input({ body: new ChunkedBody([Buffer.from("instance "), Buffer.from("bytes")], 14) }));
    client.destroy();
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(req!.url).toBe("/dicom/1.2/3.4/5.6.dcm");
    expect(req!.body.toString()).toBe("instance bytes");
    expect(req!.headers).toMatchObject({
      "content-type": "application/dicom",
      "content-length": "14",
      "if-none-match": "*",
      "x-amz-meta-sha256": "a".repeat(64),
      "x-amz-content-sha256": "a".repeat(64),
    });
    expect(req!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=a\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/);
    expect(req!.headers["x-amz-checksum-crc32"]).toBeUndefined();
    expect(await metrics.registry.getSingleMetricAsString("stowrs_s3_request_duration_seconds")).toMatch(/_count\{operation="PutObject",outcome="ok"\} 1/);
  });

  it("reports a refused condition as the SDK does (412 PreconditionFailed), without retrying it", async () => {
    const { client, putter: p } = putter();
    handlers = [s3Answer(412, "PreconditionFailed")];
    await expect(p.put(input())).rejects.toMatchObject({ name: "PreconditionFailed", message: "PreconditionFailed happened", $metadata: { httpStatusCode: 412 } });
    client.destroy();
    expect(seen).toHaveLength(1);
  });

  it("retries throttling and 5xx with the client's strategy up to S3_MAX_ATTEMPTS, then reports the last error", async () => {
    const { client, metrics, putter: p } = putter();
    handlers = [s3Answer(503, "SlowDown"), s3Answer(500, "InternalError"), s3Answer(503, "SlowDown"), s3Answer(200, "")];
    await expect(p.put(input())).rejects.toMatchObject({ name: "SlowDown", $metadata: { httpStatusCode: 503, attempts: 3 } });
    client.destroy();
    expect(seen).toHaveLength(3);
    expect(await metrics.registry.getSingleMetricAsString("stowrs_s3_request_duration_seconds")).toMatch(/_count\{operation="PutObject",outcome="error"\} 1/);
  });

  it("retries a connection reset, and stores on the next attempt", async () => {
    const { client, putter: p } = putter();
    handlers = [(req) => req.socket.destroy()];
    await p.put(input());
    client.destroy();
    expect(seen).toHaveLength(2);
  });

  it("takes an answer cut off in the middle for a network error, and retries", async () => {
    const { client, putter: p } = putter();
    handlers = [
      (_req, _body, res) => {
        res.writeHead(200, { "Content-Length": "100" });
        res.write("partial");
        setTimeout(() => res.socket?.destroy(), 10);
      },
    ];
    await p.put(input());
    client.destroy();
    expect(seen).toHaveLength(2);
  });

  it("gives up an attempt after S3_REQUEST_TIMEOUT_SECONDS without progress (TimeoutError), retrying it", async () => {
    const { client, putter: p } = putter({ S3_REQUEST_TIMEOUT_SECONDS: "1", S3_MAX_ATTEMPTS: "2" });
    const hang: Handler = () => undefined;
    handlers = [hang, hang];
    const started = Date.now();
    await expect(p.put(input())).rejects.toMatchObject({ name: "TimeoutError" });
    client.destroy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(seen).toHaveLength(2);
  });

  it("corrects a skewed clock from the server's Date and signs the retry with it", async () => {
    const { client, putter: p } = putter();
    const serverNow = new Date(Date.now() + 3_600_000);
    // A server an hour ahead of this machine, on every answer.
    handlers = [s3Answer(403, "RequestTimeTooSkewed", { Date: serverNow.toUTCString() }), (_req, _body, res) => res.writeHead(200, { Date: serverNow.toUTCString() }).end()];
    await p.put(input());
    expect(seen).toHaveLength(2);
    expect(client.config.systemClockOffset).toBeGreaterThan(3_590_000);
    const stamp = String(seen[1]!.headers["x-amz-date"]);
    const signedAt = Date.parse(`${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`);
    expect(Math.abs(signedAt - serverNow.getTime())).toBeLessThan(10_000);
    client.destroy();
  });

  it("leaves a directory bucket (S3 Express, its own signing scheme) to the SDK", async () => {
    const config = loadConfig({ S3_BUCKET: "dicom", AWS_REGION: "us-east-1" });
    const transport = s3Transport(config);
    const client = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
    const send = vi.spyOn(client, "send").mockResolvedValue({} as never);
    const p = new ObjectPutter(client, "stow--use1-az4--x-s3", transport);
    await p.put(input());
    expect(send).toHaveBeenCalledTimes(1);
    const command = send.mock.calls[0]![0] as PutObjectCommand;
    expect(command).toBeInstanceOf(PutObjectCommand);
    expect(command.input).toMatchObject({ Bucket: "stow--use1-az4--x-s3", Key: "1.2/3.4/5.6.dcm", IfNoneMatch: "*", ContentType: "application/dicom" });
    client.destroy();
  });
});

describe("ObjectPutter's signature", () => {
  const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "FwoGZXIvYXdzEXAMPLE//token+with/odd=chars" };
  // No Date on the answers: neither path may correct its clock between the two requests.
  const noDate: Handler = (_req, _body, res) => {
    res.sendDate = false;
    res.writeHead(200, { ETag: '"e"' }).end();
  };
  /** The signed headers of a request as S3 sees them: name to value, in the order of SignedHeaders. */
  const signedHeaders = (req: (typeof seen)[number]) => {
    const names = /SignedHeaders=([^,]+)/.exec(String(req.headers.authorization))![1]!.split(";");
    return Object.fromEntries(names.map((name) => [name, String(req.headers[name])]));
  };

  it.each([
    ["1.2.840/1.2.3/1.2.3.4.dcm", "eu-central-1", undefined],
    ["site a/üml+aut~x (1)!/1.2.dcm", "us-east-1", "CRC32 given"],
  ])("signs the PutObject of %s (%s) as the SDK's own PutObject is signed", async (key, region, withCrc32) => {
    const body = Buffer.from("the instance's bytes");
    const sha256 = createHash("sha256").update(body).digest("hex");
    const metadata = { "sop-class-uid": "1.2.840.10008.5.1.4.1.1.2", sha256 };
    const crc32 = withCrc32 ? "AAAAAA==" : undefined;
    // Both paths read the same clock, stopped at one moment.
    const now = vi.spyOn(Date, "now").mockReturnValue(Date.parse("2026-11-23T23:59:58Z"));
    handlers = [noDate, noDate];
    try {
      // The SDK as published, hashing the body itself; what the service does not send is taken off
      // before it signs: its telemetry headers and the x-id=PutObject query (a hint S3 ignores).
      const sdk = new S3Client({ endpoint, region, forcePathStyle: true, credentials, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
      sdk.middlewareStack.addRelativeTo(
        (next: FinalizeHandler<any, any>) => (args: FinalizeHandlerArguments<any>) => {
          const { headers, query } = args.request as { headers: Record<string, string>; query: Record<string, string> };
          delete query["x-id"];
          for (const name of ["x-amz-user-agent", "amz-sdk-invocation-id", "amz-sdk-request"]) delete headers[name];
          return next(args);
        },
        { relation: "before", toMiddleware: "httpSigningMiddleware", name: "dropTelemetryHeaders" },
      );
      await sdk.send(
        new PutObjectCommand({
          Bucket: "dicom",
          Key: key,
          Body: body,
          ContentType: "application/dicom",
          Metadata: metadata,
          IfNoneMatch: "*",
          ...(crc32 ? { ChecksumAlgorithm: "CRC32" as const, ChecksumCRC32: crc32 } : {}),
        }),
      );
      sdk.destroy();

      const config = loadConfig({ S3_BUCKET: "dicom", S3_ENDPOINT: endpoint, S3_FORCE_PATH_STYLE: "true", AWS_REGION: region });
      const transport = s3Transport(config);
      const client = createS3Client(config, transport, { amazonS3: false, credentials });
      // The body in two chunks, as an instance arrives: the signature depends on the SHA-256 given, not on the chunks.
      await new ObjectPutter(client, "dicom", transport).put({ key, body: new ChunkedBody([body.subarray(0, 5), body.subarray(5)], body.length), sha256, metadata, ifNoneMatch: true, crc32 });
      client.destroy();
    } finally {
      now.mockRestore();
    }

    expect(seen).toHaveLength(2);
    const [bySdk, byService] = seen as [(typeof seen)[number], (typeof seen)[number]];
    expect(byService.url).toBe(bySdk.url);
    expect(byService.body.equals(bySdk.body)).toBe(true);
    expect(signedHeaders(byService)).toEqual(signedHeaders(bySdk));
    expect(byService.headers.authorization).toBe(bySdk.headers.authorization);
    // What the comparison rests on: a real signature over the payload's SHA-256, with the session token and the region's scope.
    expect(signedHeaders(byService)).toMatchObject({ "x-amz-content-sha256": sha256, "x-amz-security-token": credentials.sessionToken, "x-amz-date": "20261123T235958Z", "if-none-match": "*" });
    expect(byService.headers.authorization).toContain(`Credential=AKIDEXAMPLE/20261123/${region}/s3/aws4_request`);
    if (crc32) expect(signedHeaders(byService)).toMatchObject({ "x-amz-checksum-crc32": crc32 });
  });
});
