// The embedded store answers If-None-Match on PutObject as Amazon S3 does, and only when asked to.
import { once } from "node:events";
import { PassThrough } from "node:stream";
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";

let withConditions: S3rverHandle;
let plain: S3rverHandle;

beforeAll(async () => {
  [withConditions, plain] = await Promise.all([startS3rver(), startS3rver({ conditionalWrites: false })]);
});
afterAll(async () => {
  await Promise.all([withConditions?.stop(), plain?.stop()]);
});

/** HTTP status of a PutObject (200, or the error's status). */
function put(s3: S3rverHandle, key: string, body: string, ifNoneMatch?: string): Promise<number | string> {
  return s3.client
    .send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ...(ifNoneMatch ? { IfNoneMatch: ifNoneMatch } : {}) }))
    .then(
      () => 200,
      (err) => `${err.$metadata?.httpStatusCode} ${err.name}`,
    );
}

async function read(s3: S3rverHandle, key: string): Promise<string> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return out.Body!.transformToString();
}

describe("embedded store with conditional writes (the default)", () => {
  it("writes a new key, then refuses a second conditional write with 412 and keeps the first bytes", async () => {
    const key = "1.2.3/4.5 6/7.dcm";
    expect(await put(withConditions, key, "first", "*")).toBe(200);
    expect(await put(withConditions, key, "second", "*")).toBe("412 PreconditionFailed");
    expect(await read(withConditions, key)).toBe("first");
  });

  it("refuses the second of two concurrent conditional writes to one key with 409, and stores one of them", async () => {
    const key = "concurrent/1.dcm";
    const results = await Promise.all([put(withConditions, key, "a", "*"), put(withConditions, key, "b", "*")]);
    expect(results.filter((r) => r === 200)).toHaveLength(1);
    expect(results.filter((r) => r !== 200)[0]).toMatch(/^(409 ConditionalRequestConflict|412 PreconditionFailed)$/);
    expect(["a", "b"]).toContain(await read(withConditions, key));
  });

  it("shows nothing at the key while a conditional write is under way, as S3 does (no half-written object to HEAD; atomic-put.ts)", async () => {
    const key = "in-progress/1.dcm";
    const body = new PassThrough();
    const writing = withConditions.client.send(
      new PutObjectCommand({ Bucket: withConditions.bucket, Key: key, Body: body, ContentLength: 200_000, IfNoneMatch: "*" }),
    );
    // Once the client has taken the first half, the request is on its way; the store has taken the
    // write when a second conditional write to the key is refused with 409.
    if (!body.write(Buffer.alloc(100_000, 1))) await once(body, "drain");
    await expect.poll(() => put(withConditions, key, "other", "*"), { interval: 50 }).toBe("409 ConditionalRequestConflict");
    const head = await withConditions.client.send(new HeadObjectCommand({ Bucket: withConditions.bucket, Key: key })).then(
      (out) => `200 ${out.ContentLength}`,
      (err) => `${err.$metadata?.httpStatusCode}`,
    );
    expect(head).toBe("404");
    body.end(Buffer.alloc(100_000, 2));
    await writing;
    const out = await withConditions.client.send(new HeadObjectCommand({ Bucket: withConditions.bucket, Key: key }));
    expect(out.ContentLength).toBe(200_000);
  });

  it("leaves unconditional writes and multipart uploads alone", async () => {
    const key = "unconditional/1.dcm";
    expect(await put(withConditions, key, "first")).toBe(200);
    expect(await put(withConditions, key, "second")).toBe(200);
    expect(await read(withConditions, key)).toBe("second");

    const { client, bucket } = withConditions;
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: "third" }));
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    expect(await read(withConditions, key)).toBe("third");
  });
});

describe("embedded store without conditional writes (s3rver as published)", () => {
  it("ignores If-None-Match and overwrites", async () => {
    const key = "plain/1.dcm";
    expect(await put(plain, key, "first", "*")).toBe(200);
    expect(await put(plain, key, "second", "*")).toBe(200);
    expect(await read(plain, key)).toBe("second");
  });
});
