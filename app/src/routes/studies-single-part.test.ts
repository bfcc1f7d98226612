// The store transaction with a single-part body (Content-Type: application/dicom): one instance,
// handled exactly like the one part of a multipart/related request. Real HTTP, the real service,
// a real S3-compatible server.
import { request as httpRequest } from "node:http";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInstance, CT_IMAGE_STORAGE, newInstanceUids, newUid } from "../../test/support/dicom.js";
import { startInProcessService } from "../../test/support/in-process.js";
import { expectedKey } from "../../test/support/key-layout.js";
import { fetchMetrics, metric } from "../../test/support/metrics.js";
import { multipartBody } from "../../test/support/multipart.js";
import { rawExchange } from "../../test/support/raw-http.js";
import { getObject as getStoredObject, listKeys } from "../../test/support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { failedItems, otherReasons, referencedUids } from "../../test/support/store-response.js";
import { postSinglePart, postStow } from "../../test/support/stow-client.js";
import { TS } from "../../test/support/transfer-syntaxes.js";
import { MIB } from "../../test/support/units.js";
import type { RunningService } from "../server.js";

let s3: S3rverHandle;
let svc: RunningService;

beforeAll(async () => {
  s3 = await startS3rver();
  svc = await startInProcessService(s3, { UPLOAD_PART_SIZE_MIB: "5" });
});
afterAll(async () => {
  await svc?.shutdown();
  await s3?.stop();
});

const getObject = (key: string) => getStoredObject(s3.client, s3.bucket, key);
const keysOf = async (studyUid: string) => (await listKeys(s3.client, s3.bucket)).filter((k) => k.startsWith(`${studyUid}/`));

describe("POST /studies with Content-Type: application/dicom", () => {
  it("stores the body as one instance, byte-exact, and answers 200 with it in ReferencedSOPSequence", async () => {
    const ids = newInstanceUids();
    const instance = buildInstance({ ...ids, pixels: 4096 });
    const res = await postSinglePart(svc.url, instance);
    expect(res.status).toBe(200);
    expect(res.contentType).toBe("application/dicom+json");
    expect(referencedUids(res.json)).toEqual([ids.sopInstanceUid]);
    expect(res.json["00081199"].Value[0]["00081150"].Value).toEqual([CT_IMAGE_STORAGE]);
    expect((await getObject(expectedKey(ids)))?.equals(instance)).toBe(true);
  });

  it("stores it under POST /studies/{StudyInstanceUID} too, and fails another study's instance with 0xC409 without writing it", async () => {
    const mine = newInstanceUids();
    expect((await postSinglePart(svc.url, buildInstance(mine), { path: `/studies/${mine.studyUid}` })).status).toBe(200);
    const other = newInstanceUids();
    const res = await postSinglePart(svc.url, buildInstance(other), { path: `/studies/${mine.studyUid}` });
    expect(res.status).toBe(409);
    expect(failedItems(res.json)).toEqual([{ uid: other.sopInstanceUid, reason: 0xc409 }]);
    expect(await getObject(expectedKey(other))).toBeUndefined();
  });

  it("takes parameters, quoted or not, in any case, and lets the File Meta's transfer syntax decide", async () => {
    for (const contentType of [
      "application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50",
      'Application/DICOM; Transfer-Syntax="1.2.840.10008.1.2"',
      "application/dicom;transfer-syntax=*",
    ]) {
      const ids = newInstanceUids();
      const instance = buildInstance({ ...ids, transferSyntax: TS.explicitVRLittleEndian });
      const res = await postSinglePart(svc.url, instance, { contentType });
      expect(res.status, contentType).toBe(200);
      const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: expectedKey(ids) }));
      expect(head.Metadata?.["transfer-syntax-uid"], contentType).toBe(TS.explicitVRLittleEndian);
    }
  });

  it("accepts a chunked body", async () => {
    const ids = newInstanceUids();
    const instance = buildInstance({ ...ids, pixels: 300_000 });
    const pieces = Array.from({ length: Math.ceil(instance.length / 7919) }, (_, i) => instance.subarray(i * 7919, (i + 1) * 7919));
    const res = await postSinglePart(svc.url, pieces, { chunked: true });
    expect(res.status).toBe(200);
    expect((await getObject(expectedKey(ids)))?.equals(instance)).toBe(true);
  });

  it("streams an instance larger than one S3 part through a multipart upload, byte-exact", async () => {
    const ids = newInstanceUids();
    const instance = buildInstance({ ...ids, pixels: 12 * MIB + 7 });
    expect((await postSinglePart(svc.url, instance)).status).toBe(200);
    expect((await getObject(expectedKey(ids)))?.equals(instance)).toBe(true);
  });

  it("answers DICOM XML when asked", async () => {
    const ids = newInstanceUids();
    const res = await postSinglePart(svc.url, buildInstance(ids), { headers: { Accept: "application/dicom+xml" } });
    expect(res.status).toBe(200);
    expect(res.contentType).toBe("application/dicom+xml");
    expect(res.text).toContain(`<Value number="1">${ids.sopInstanceUid}</Value>`);
  });

  it("answers 409 with 0xC000 for an empty body and for a body that is not DICOM, writing nothing", async () => {
    const before = (await listKeys(s3.client, s3.bucket)).length;
    for (const body of [Buffer.alloc(0), Buffer.from("not a DICOM file ".repeat(50))]) {
      const res = await postSinglePart(svc.url, body);
      expect(res.status, `${body.length} bytes`).toBe(409);
      expect(otherReasons(res.json)).toEqual([0xc000]);
      expect(res.headers.get("warning")).toMatch(/^299 stowrs-to-s3 "/);
    }
    expect((await listKeys(s3.client, s3.bucket)).length).toBe(before);
  });

  it("answers 409 with 0xA900, naming the instance, when its UIDs are missing or invalid", async () => {
    const ids = newInstanceUids();
    const res = await postSinglePart(svc.url, buildInstance({ ...ids, omit: ["0020000E"] }));
    expect(res.status).toBe(409);
    expect(failedItems(res.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0xa900 }]);
  });

  it("follows the duplicate rules: identical bytes are acknowledged without a second object, different bytes rejected under DUPLICATE_POLICY=reject", async () => {
    const strict = await startInProcessService(s3, { DUPLICATE_POLICY: "reject" });
    try {
      const ids = newInstanceUids();
      const first = buildInstance({ ...ids, pixels: 1000 });
      expect((await postSinglePart(strict.url, first)).status).toBe(200);
      // The same instance once more as single-part, then as multipart: the same object answers both.
      expect((await postSinglePart(strict.url, first)).status).toBe(200);
      expect((await postStow(strict.url, multipartBody([first], "b"), "b")).status).toBe(200);
      const different = await postSinglePart(strict.url, buildInstance({ ...ids, pixels: 1002 }));
      expect(different.status).toBe(409);
      expect(failedItems(different.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0x0111 }]);
      expect(await keysOf(ids.studyUid)).toEqual([expectedKey(ids)]);
      expect((await getObject(expectedKey(ids)))?.equals(first)).toBe(true);
    } finally {
      await strict.shutdown();
    }
  });

  it("writes nothing when the body ends before its Content-Length (Node answers 400), and counts the instance failed", async () => {
    const ids = newInstanceUids();
    const instance = buildInstance({ ...ids, pixels: 200_000 });
    const failedBefore = metric(await fetchMetrics(svc.url), "stowrs_instances_total", { outcome: "failed", reason: String(0xc000) }) ?? 0;
    const head = `POST /studies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/dicom\r\nContent-Length: ${instance.length + 5000}\r\nConnection: close\r\n\r\n`;
    const out = await rawExchange(Number(new URL(svc.url).port), head, { pieces: [instance], halfClose: true });
    expect(out.statuses).toEqual([400]);
    await expect.poll(async () => metric(await fetchMetrics(svc.url), "stowrs_instances_total", { outcome: "failed", reason: String(0xc000) })).toBe(failedBefore + 1);
    expect(metric(await fetchMetrics(svc.url), "stowrs_uploads_in_flight")).toBe(0);
    expect(await getObject(expectedKey(ids))).toBeUndefined();
  });
});

describe("single-part limits", () => {
  it("fails an instance over MAX_INSTANCE_BYTES with 0xA700 and writes nothing", async () => {
    const small = await startInProcessService(s3, { MAX_INSTANCE_BYTES: "200000" });
    try {
      const ids = newInstanceUids();
      const res = await postSinglePart(small.url, buildInstance({ ...ids, pixels: 300_000 }));
      expect(res.status).toBe(409);
      expect(failedItems(res.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0xa700 }]);
      expect(await getObject(expectedKey(ids))).toBeUndefined();
    } finally {
      await small.shutdown();
    }
  });

  it("answers 413 when Content-Length exceeds MAX_REQUEST_BYTES, and when a chunked body grows past it", async () => {
    const small = await startInProcessService(s3, { MAX_REQUEST_BYTES: "100000" });
    try {
      const ids = newInstanceUids();
      const instance = buildInstance({ ...ids, pixels: 200_000 });
      const declared = await postSinglePart(small.url, instance);
      expect(declared.status).toBe(413);
      expect(declared.json).toMatchObject({ status: 413, error: expect.stringContaining("MAX_REQUEST_BYTES") });
      const pieces = Array.from({ length: Math.ceil(instance.length / 16384) }, (_, i) => instance.subarray(i * 16384, (i + 1) * 16384));
      const grown = await postSinglePart(small.url, pieces, { chunked: true });
      expect(grown.status).toBe(413);
      expect(failedItems(grown.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0xa700 }]);
      expect(await getObject(expectedKey(ids))).toBeUndefined();
    } finally {
      await small.shutdown();
    }
  });

  it("takes the process-wide instance slot like a multipart request, and gets 503 when none is free", async () => {
    const tiny = await startInProcessService(s3, { MAX_INSTANCES_IN_FLIGHT: "1" });
    try {
      const ids = newInstanceUids();
      const instance = buildInstance({ ...ids, pixels: 200_000 });
      const held = httpRequest(`${tiny.url}/studies`, { method: "POST", headers: { "Content-Type": "application/dicom", "Transfer-Encoding": "chunked" } });
      const heldStatus = new Promise<number>((resolve) => held.on("response", (r) => (r.resume(), resolve(r.statusCode!))));
      held.write(instance.subarray(0, 100_000));
      await expect.poll(() => tiny.context.instanceSlots.inUse).toBe(1);
      const refused = await postSinglePart(tiny.url, buildInstance());
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
      held.end(instance.subarray(100_000));
      expect(await heldStatus).toBe(200);
      expect((await getObject(expectedKey(ids)))?.equals(instance)).toBe(true);
    } finally {
      await tiny.shutdown();
    }
  });

  it("checks the study UID in the path before reading the body", async () => {
    const res = await postSinglePart(svc.url, buildInstance(), { path: `/studies/${newUid()}.x` });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ status: 400, error: expect.stringContaining("not a valid UID") });
  });
});
