// The PutObject path signs its own requests: its signature must be the one the SDK computes for
// the same request. Recorded from the SDK by a minimal S3 stand-in, then signed again here.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeKeyPath, S3Signer } from "./sigv4.js";

let server: Server;
let endpoint: string;
const recorded: Array<{ url: string; headers: IncomingHttpHeaders }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      recorded.push({ url: req.url!, headers: req.headers });
      res.writeHead(200, { ETag: '"e"' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "FwoGZXIvYXdzEXAMPLE//token+with/odd=chars" };

describe("SigV4 for PutObject", () => {
  it.each([
    ["1.2.840/1.2.3/1.2.3.4.dcm", "eu-central-1"],
    ["site a/üml+aut~x (1)!/1.2.dcm", "us-east-1"],
  ])("signs %s as the SDK does", async (key, region) => {
    const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
    await client.send(
      new PutObjectCommand({
        Bucket: "dicom",
        Key: key,
        Body: Buffer.from("the instance"),
        ContentType: "application/dicom",
        Metadata: { "sop-class-uid": "1.2.840.10008.5.1.4.1.1.2", sha256: "0".repeat(64) },
        IfNoneMatch: "*",
      }),
    );
    client.destroy();
    const sent = recorded.at(-1)!;
    const [path, query] = sent.url.split("?");
    expect(path).toBe(`/dicom/${encodeKeyPath(key)}`);

    const authorization = String(sent.headers.authorization);
    const signedNames = /SignedHeaders=([^,]+)/.exec(authorization)![1]!.split(";");
    const headers: Record<string, string> = {};
    for (const name of signedNames) headers[name] = String(sent.headers[name]);
    const stamp = headers["x-amz-date"]!;
    const date = new Date(`${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`);
    new S3Signer(region).sign({ method: "PUT", path: path!, query, headers, payloadHash: headers["x-amz-content-sha256"]! }, credentials, date);
    expect(headers["authorization"]).toBe(authorization);
    expect(headers["x-amz-security-token"]).toBe(credentials.sessionToken);
  });

  it("derives the signing key again when the day changes", () => {
    const signer = new S3Signer("us-east-1");
    const sign = (date: Date) => {
      const headers: Record<string, string> = { host: "h" };
      signer.sign({ method: "PUT", path: "/k", headers, payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" }, credentials, date);
      return headers["authorization"]!;
    };
    const first = sign(new Date("2026-11-23T23:59:59Z"));
    expect(first).toContain("/20261123/us-east-1/s3/aws4_request");
    const next = sign(new Date("2026-11-24T00:00:01Z"));
    expect(next).toContain("/20261124/us-east-1/s3/aws4_request");
    expect(sign(new Date("2026-11-23T23:59:59Z"))).toBe(first);
  });
});
