// The embedded store answers If-None-Match on PutObject as Amazon S3 does, and only when asked to.
import { once } from "node:events";
import { PassThrough } from "node:stream";
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openUploads } from "../../test/support/s3-objects.js";
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

describe("embedded store: conditional completion of a multipart upload, and its abort", () => {
  /** A one-part multipart upload of `body`, not completed yet. */
  async function started(key: string, body: string): Promise<{ uploadId: string; etag: string }> {
    const { client, bucket } = withConditions;
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: body }));
    return { uploadId: UploadId!, etag: part.ETag! };
  }
  function complete(key: string, upload: { uploadId: string; etag: string }, ifNoneMatch?: string): Promise<number | string> {
    const { client, bucket } = withConditions;
    return client
      .send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: upload.uploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: upload.etag }] },
          ...(ifNoneMatch ? { IfNoneMatch: ifNoneMatch } : {}),
        }),
      )
      .then(
        () => 200,
        (err) => `${err.$metadata?.httpStatusCode} ${err.name}`,
      );
  }
  const abort = (key: string, uploadId: string) =>
    withConditions.client.send(new AbortMultipartUploadCommand({ Bucket: withConditions.bucket, Key: key, UploadId: uploadId })).then(
      () => 204,
      (err) => `${err.$metadata?.httpStatusCode} ${err.name}`,
    );
  const held = (key: string) => openUploads(withConditions.dir, withConditions.bucket, key);

  it("completes a new key, then refuses a conditional completion with 412, keeping the first bytes and the refused upload", async () => {
    const key = "mpu/412.dcm";
    expect(await complete(key, await started(key, "first"), "*")).toBe(200);
    const second = await started(key, "second");
    expect(await complete(key, second, "*")).toBe("412 PreconditionFailed");
    expect(await read(withConditions, key)).toBe("first");
    // As on S3, the refused upload is still there: it can be completed without the condition.
    expect(await held(key)).toEqual([second.uploadId]);
    expect(await complete(key, second)).toBe(200);
    expect(await read(withConditions, key)).toBe("second");
    expect(await held(key)).toEqual([]);
  });

  it("refuses a conditional completion with 409 while a conditional write to the key is under way, and drops that upload as S3 does", async () => {
    const key = "mpu/409.dcm";
    const body = new PassThrough();
    const writing = withConditions.client.send(
      new PutObjectCommand({ Bucket: withConditions.bucket, Key: key, Body: body, ContentLength: 200_000, IfNoneMatch: "*" }),
    );
    if (!body.write(Buffer.alloc(100_000, 1))) await once(body, "drain");
    await expect.poll(() => put(withConditions, key, "other", "*"), { interval: 50 }).toBe("409 ConditionalRequestConflict");
    const upload = await started(key, "mpu");
    expect(await complete(key, upload, "*")).toBe("409 ConditionalRequestConflict");
    expect(await held(key)).toEqual([]);
    body.end(Buffer.alloc(100_000, 2));
    await writing;
    expect((await read(withConditions, key)).length).toBe(200_000);
  });

  it("aborts a multipart upload (s3rver itself answers 405), and answers 404 NoSuchUpload for one that is gone", async () => {
    const key = "mpu/aborted.dcm";
    const upload = await started(key, "parts");
    expect(await held(key)).toEqual([upload.uploadId]);
    expect(await abort(key, upload.uploadId)).toBe(204);
    expect(await held(key)).toEqual([]);
    expect(await abort(key, upload.uploadId)).toBe("404 NoSuchUpload");
    expect(await complete(key, upload)).toBe("404 NoSuchUpload");
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
