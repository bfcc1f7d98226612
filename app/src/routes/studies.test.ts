// The store transaction end to end: real HTTP, the real service, a real S3-compatible server.
// Duplicates: studies-duplicates.test.ts; health, readiness and metrics: health.test.ts.
import { createHash } from "node:crypto";
import { request as httpRequest } from "node:http";
import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deflateBombInstance } from "../../test/support/deflate-bomb.js";
import { buildInstance, newInstanceUids, newUid, SYNTHETIC_SYNTAXES } from "../../test/support/dicom.js";
import { startInProcessService } from "../../test/support/in-process.js";
import { expectedKey, KEY_LAYOUT } from "../../test/support/key-layout.js";
import { multipartBody, multipartContentType } from "../../test/support/multipart.js";
import { getObject as getStoredObject } from "../../test/support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { failedItems, otherReasons, referencedUids } from "../../test/support/store-response.js";
import { postStow } from "../../test/support/stow-client.js";
import { MULTIPART_LIMITS } from "../multipart/reader.js";
import type { RunningService } from "../server.js";
import { Reason } from "../stow/reasons.js";

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

const B = "stow-test-boundary";

const post = (body: Buffer, headers: Record<string, string> = {}, path = "/studies", service = svc) => postStow(service.url, body, B, { path, headers });

const getObject = (key: string) => getStoredObject(s3.client, s3.bucket, key);

describe("POST /studies", () => {
  it("stores instances in every transfer syntax byte-exact at the key layout and answers 200", async () => {
    const items = Object.values(SYNTHETIC_SYNTAXES).map((ts) => ({ ids: newInstanceUids(), ts }));
    const instances = items.map(({ ids, ts }) => buildInstance({ ...ids, transferSyntax: ts, pixels: 4096 }));
    const res = await post(multipartBody(instances, B));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/dicom+json");
    expect(referencedUids(res.json)).toEqual(items.map((i) => i.ids.sopInstanceUid));
    expect(res.json["00081198"]).toBeUndefined();
    for (const [n, { ids }] of items.entries()) {
      const stored = await getObject(expectedKey(ids));
      expect(stored?.equals(instances[n])).toBe(true);
      const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: expectedKey(ids) }));
      expect(head.ContentType).toBe("application/dicom");
      expect(head.Metadata?.["sop-class-uid"]).toBe("1.2.840.10008.5.1.4.1.1.2");
      expect(head.Metadata?.["transfer-syntax-uid"]).toBe(items[n].ts);
      // Also the payload hash SigV4 signs for the PUT (real S3 checks it against the body).
      expect(head.Metadata?.sha256).toBe(createHash("sha256").update(instances[n]).digest("hex"));
    }
  });

  it("streams an instance larger than one part through a multipart upload, byte-exact", async () => {
    const ids = newInstanceUids();
    const instance = buildInstance({ ...ids, pixels: 12 * 1024 * 1024 + 7 });
    const res = await post(multipartBody([instance], B));
    expect(res.status).toBe(200);
    expect((await getObject(expectedKey(ids)))?.equals(instance)).toBe(true);
  });

  it("parses every framing clients send: leading CRLF, no final CRLF, unquoted type, odd parameter order, per-part Content-Length", async () => {
    const a = newInstanceUids();
    const b = newInstanceUids();
    const ia = buildInstance(a);
    const ib = buildInstance(b);
    const body = multipartBody([{ body: ia, headers: { "Content-Length": String(ia.length) } }, { body: ib, contentType: null }], B, {
      preamble: "\r\n",
      trailingCrlf: false,
    });
    const res = await post(body, { "Content-Type": `Multipart/Related; boundary="${B}"; start="<x>"; TYPE=application/dicom; charset=utf-8` });
    expect(res.status).toBe(200);
    expect(referencedUids(res.json)).toEqual([a.sopInstanceUid, b.sopInstanceUid]);
    expect((await getObject(expectedKey(b)))?.equals(ib)).toBe(true);
  });

  it("accepts a chunked body", async () => {
    const ids = newInstanceUids();
    const instance = buildInstance({ ...ids, pixels: 300_000 });
    const body = multipartBody([instance], B);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${svc.url}/studies`, { method: "POST", headers: { "Content-Type": multipartContentType(B), "Transfer-Encoding": "chunked" } }, (r) => {
        let text = "";
        r.on("data", (d) => (text += d));
        r.on("end", () => resolve({ status: r.statusCode!, body: text }));
      });
      req.on("error", reject);
      for (let i = 0; i < body.length; i += 7919) req.write(body.subarray(i, i + 7919));
      req.end();
    });
    expect(res.status).toBe(200);
    expect((await getObject(expectedKey(ids)))?.equals(instance)).toBe(true);
  });

  it("fails only the bad parts, each with its own numeric reason, and answers 202", async () => {
    const good = newInstanceUids();
    const noStudy = newInstanceUids();
    const goodInstance = buildInstance(good);
    const res = await post(
      multipartBody(
        [
          goodInstance,
          { body: Buffer.from("plain text, not DICOM"), contentType: "text/plain" },
          { body: Buffer.from("x".repeat(500)) },
          buildInstance({ ...noStudy, omit: ["0020000D"] }),
          buildInstance({ studyUid: "1.2.3/../../etc", seriesUid: newUid(), sopInstanceUid: newUid() }),
        ],
        B,
      ),
    );
    expect(res.status).toBe(202);
    expect(referencedUids(res.json)).toEqual([good.sopInstanceUid]);
    expect(failedItems(res.json)).toEqual([
      { uid: noStudy.sopInstanceUid, reason: 0xa900 },
      { uid: expect.any(String), reason: 0xa900 },
    ]);
    expect(otherReasons(res.json)).toEqual([0xc000, 0xc000]);
    expect(res.headers.get("warning")).toMatch(/^299 /);
    // Nothing but the good instance was written.
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    for (const obj of listed.Contents ?? []) expect(obj.Key).toMatch(KEY_LAYOUT);
  });

  it("answers 409 when no instance was stored", async () => {
    const res = await post(multipartBody([Buffer.from("junk".repeat(100))], B));
    expect(res.status).toBe(409);
    expect(otherReasons(res.json)).toEqual([0xc000]);
  });

  it("answers DICOM XML when asked", async () => {
    const ids = newInstanceUids();
    const res = await post(multipartBody([buildInstance(ids), Buffer.from("junk")], B), { Accept: "application/dicom+xml" });
    expect(res.status).toBe(202);
    expect(res.headers.get("content-type")).toBe("application/dicom+xml");
    expect(res.text).toContain('<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDEX">');
    expect(res.text).toContain(`<Value number="1">${ids.sopInstanceUid}</Value>`);
    expect(res.text).toMatch(/tag="0008119A" vr="SQ"[\s\S]*<Value number="1">49152<\/Value>/);
  });

  it.each([
    ["406 for an Accept nothing can satisfy", { Accept: "text/html" }, 406],
    ["415 for another media type", { "Content-Type": "application/octet-stream" }, 415],
    ["415 for multipart/form-data", { "Content-Type": `multipart/form-data; boundary=${B}` }, 415],
    ["415 for another root type", { "Content-Type": `multipart/related; type="application/dicom+json"; boundary=${B}` }, 415],
    ["400 for a missing boundary", { "Content-Type": 'multipart/related; type="application/dicom"' }, 400],
    ["415 for a gzip Content-Encoding", { "Content-Encoding": "gzip" }, 415],
  ])("answers %s, in JSON", async (_, headers, status) => {
    const res = await post(multipartBody([buildInstance()], B), headers as Record<string, string>);
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.json.error).toEqual(expect.any(String));
  });

  it("answers 400 for a body without a multipart delimiter, or without parts", async () => {
    const none = await post(Buffer.from("no multipart here"));
    expect(none.status).toBe(400);
    expect(otherReasons(none.json)).toEqual([0xc000]);
    expect((await post(Buffer.from(`--${B}--\r\n`))).status).toBe(400);
  });

  it("stores the instances before a body that breaks off, and reports the rest (202)", async () => {
    const ids = newInstanceUids();
    const whole = multipartBody([buildInstance(ids), buildInstance()], B);
    const cut = whole.subarray(0, whole.length - 200);
    const res = await post(cut);
    expect(res.status).toBe(202);
    expect(referencedUids(res.json)).toEqual([ids.sopInstanceUid]);
    expect(failedItems(res.json)).toEqual([{ uid: expect.any(String), reason: 0xc000 }]);
  });
});

describe("POST /studies/{StudyInstanceUID}", () => {
  it("stores instances of that study and fails others with 0xC409 without writing them", async () => {
    const study = newUid();
    const mine = { ...newInstanceUids(), studyUid: study };
    const other = newInstanceUids();
    const res = await post(multipartBody([buildInstance(mine), buildInstance(other)], B), {}, `/studies/${study}`);
    expect(res.status).toBe(202);
    expect(referencedUids(res.json)).toEqual([mine.sopInstanceUid]);
    expect(failedItems(res.json)).toEqual([{ uid: other.sopInstanceUid, reason: 0xc409 }]);
    expect(await getObject(expectedKey(other))).toBeUndefined();
  });

  it.each([["1.2.3.."], ["..%2F1.2"], ["1.2.a"], ["0" + "1".repeat(70)]])("answers 400 for the path UID %s before reading the body", async (bad) => {
    const res = await post(multipartBody([buildInstance()], B), {}, `/studies/${bad}`);
    expect(res.status).toBe(400);
  });
});

describe("limits and settings", () => {
  it("fails an instance over MAX_INSTANCE_BYTES with 0xA700 and writes nothing for it", async () => {
    const small = await startInProcessService(s3, { MAX_INSTANCE_BYTES: "200000" });
    try {
      const big = newInstanceUids();
      const ok = newInstanceUids();
      const res = await post(multipartBody([buildInstance({ ...big, pixels: 300_000 }), buildInstance(ok)], B), {}, "/studies", small);
      expect(res.status).toBe(202);
      expect(failedItems(res.json)).toEqual([{ uid: big.sopInstanceUid, reason: 0xa700 }]);
      expect(referencedUids(res.json)).toEqual([ok.sopInstanceUid]);
      expect(await getObject(expectedKey(big))).toBeUndefined();
    } finally {
      await small.shutdown();
    }
  });

  it("answers 413 when Content-Length exceeds MAX_REQUEST_BYTES, and when a chunked body grows past it", async () => {
    const small = await startInProcessService(s3, { MAX_REQUEST_BYTES: "100000" });
    try {
      const body = multipartBody([buildInstance({ pixels: 200_000 })], B);
      expect((await post(body, {}, "/studies", small)).status).toBe(413);
      const chunked = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${small.url}/studies`, { method: "POST", headers: { "Content-Type": multipartContentType(B), "Transfer-Encoding": "chunked" } }, (r) => {
          r.resume();
          resolve(r.statusCode!);
        });
        req.on("error", reject);
        for (let i = 0; i < body.length; i += 16384) req.write(body.subarray(i, i + 16384));
        req.end();
      });
      expect(chunked).toBe(413);
    } finally {
      await small.shutdown();
    }
  });

  it("uses PREFIX and WADOURL in keys and retrieve URLs", async () => {
    const prefixed = await startInProcessService(s3, { PREFIX: "/site-a/incoming/", WADOURL: "https://pacs.example.org/dicomweb/" });
    try {
      const ids = newInstanceUids();
      const instance = buildInstance(ids);
      const res = await post(multipartBody([instance], B), {}, "/studies", prefixed);
      expect(res.status).toBe(200);
      expect(res.json["00081190"].Value).toEqual([`https://pacs.example.org/dicomweb/studies/${ids.studyUid}`]);
      expect(res.json["00081199"].Value[0]["00081190"].Value).toEqual([
        `https://pacs.example.org/dicomweb/studies/${ids.studyUid}/series/${ids.seriesUid}/instances/${ids.sopInstanceUid}`,
      ]);
      expect((await getObject(expectedKey(ids, "site-a/incoming")))?.equals(instance)).toBe(true);
    } finally {
      await prefixed.shutdown();
    }
  });

  it("waits RESPONSEDELAY before answering without blocking other requests", async () => {
    const slow = await startInProcessService(s3, { RESPONSEDELAY: "1.5" });
    try {
      const started = Date.now();
      const delayed = post(multipartBody([buildInstance()], B), {}, "/studies", slow);
      await new Promise((r) => setTimeout(r, 200));
      const health = await fetch(`${slow.url}/health`);
      const healthAt = Date.now() - started;
      expect(health.status).toBe(200);
      expect((await delayed).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(healthAt).toBeLessThan(1500);
    } finally {
      await slow.shutdown();
    }
  });

  it("answers 503 with Retry-After when the process-wide instance capacity is in use", async () => {
    const tiny = await startInProcessService(s3, { MAX_INSTANCES_IN_FLIGHT: "1" });
    try {
      // Hold the only slot: one instance whose body has started but not ended.
      const body = multipartBody([buildInstance({ pixels: 200_000 })], B);
      const held = httpRequest(`${tiny.url}/studies`, { method: "POST", headers: { "Content-Type": multipartContentType(B), "Transfer-Encoding": "chunked" } });
      const heldStatus = new Promise<number>((resolve) => held.on("response", (r) => (r.resume(), resolve(r.statusCode!))));
      held.write(body.subarray(0, 100_000));
      await expect.poll(() => tiny.context.instanceSlots.inUse).toBe(1);
      const res = await post(multipartBody([buildInstance()], B), {}, "/studies", tiny);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      held.end(body.subarray(100_000));
      expect(await heldStatus).toBe(200);
    } finally {
      await tiny.shutdown();
    }
  });
});

describe("POST /studies: bounds on what a small request can make the service do", () => {
  it(`stores the instances among the first ${MULTIPART_LIMITS.maxParts} parts, reads the rest of the body without storing it, and answers 202 with 0xA700`, async () => {
    const ids = newInstanceUids();
    const empty = Array.from({ length: MULTIPART_LIMITS.maxParts + 50 }, () => Buffer.alloc(0));
    const res = await post(multipartBody([buildInstance(ids), ...empty], B));
    expect(res.status).toBe(202);
    expect(referencedUids(res.json)).toEqual([ids.sopInstanceUid]);
    const others = otherReasons(res.json);
    expect(others).toHaveLength(MULTIPART_LIMITS.maxParts);
    expect(others.at(-1)).toBe(Reason.OutOfResources);
    expect(res.headers.get("warning")).toMatch(/more than 10000 parts/);
  });

  it("fails a deflated instance whose data set inflates past MAX_HEADER_BYTES before its UIDs: 0xC000, 'header too large after inflation', nothing stored", async () => {
    const bomb = deflateBombInstance(64 * 1024 * 1024);
    const res = await post(multipartBody([Buffer.concat([...bomb.chunks()])], B));
    expect(res.status).toBe(409);
    expect(failedItems(res.json)).toEqual([{ uid: bomb.uids.sopInstanceUid, reason: Reason.CannotUnderstand }]);
    expect(res.headers.get("warning")).toMatch(/header too large after inflation/);
    expect(await getObject(expectedKey(bomb.uids))).toBeUndefined();
  });
});
