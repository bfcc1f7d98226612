// The store transaction end to end: real HTTP, the real service, a real S3-compatible server.
import { createHash } from "node:crypto";
import { request as httpRequest } from "node:http";
import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInstance, newUid, SYNTHETIC_SYNTAXES } from "../../test/support/dicom.js";
import { startInProcessService } from "../../test/support/in-process.js";
import { expectedKey, KEY_LAYOUT } from "../../test/support/key-layout.js";
import { multipartBody, multipartContentType } from "../../test/support/multipart.js";
import { getObject as getStoredObject } from "../../test/support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { referencedUids } from "../../test/support/store-response.js";
import { postStow } from "../../test/support/stow-client.js";
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

const B = "stow-test-boundary";

const post = (body: Buffer, headers: Record<string, string> = {}, path = "/studies", service = svc) => postStow(service.url, body, B, { path, headers });

const getObject = (key: string, store = s3) => getStoredObject(store.client, store.bucket, key);

function uids() {
  return { studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() };
}

const referenced = referencedUids;
const failedReasons = (json: any) => (json?.["00081198"]?.Value ?? []).map((i: any) => [i["00081155"]?.Value?.[0], i["00081197"].Value[0]]);
const otherReasons = (json: any) => (json?.["0008119A"]?.Value ?? []).map((i: any) => i["00081197"].Value[0]);

describe("POST /studies", () => {
  it("stores instances in every transfer syntax byte-exact at the key layout and answers 200", async () => {
    const items = Object.values(SYNTHETIC_SYNTAXES).map((ts) => ({ ids: uids(), ts }));
    const instances = items.map(({ ids, ts }) => buildInstance({ ...ids, transferSyntax: ts, pixels: 4096 }));
    const res = await post(multipartBody(instances, B));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/dicom+json");
    expect(referenced(res.json)).toEqual(items.map((i) => i.ids.sopInstanceUid));
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
    const ids = uids();
    const instance = buildInstance({ ...ids, pixels: 12 * 1024 * 1024 + 7 });
    const res = await post(multipartBody([instance], B));
    expect(res.status).toBe(200);
    expect((await getObject(expectedKey(ids)))?.equals(instance)).toBe(true);
  });

  it("parses every framing clients send: leading CRLF, no final CRLF, unquoted type, odd parameter order, per-part Content-Length", async () => {
    const a = uids();
    const b = uids();
    const ia = buildInstance(a);
    const ib = buildInstance(b);
    const body = multipartBody([{ body: ia, headers: { "Content-Length": String(ia.length) } }, { body: ib, contentType: null }], B, {
      preamble: "\r\n",
      trailingCrlf: false,
    });
    const res = await post(body, { "Content-Type": `Multipart/Related; boundary="${B}"; start="<x>"; TYPE=application/dicom; charset=utf-8` });
    expect(res.status).toBe(200);
    expect(referenced(res.json)).toEqual([a.sopInstanceUid, b.sopInstanceUid]);
    expect((await getObject(expectedKey(b)))?.equals(ib)).toBe(true);
  });

  it("accepts a chunked body", async () => {
    const ids = uids();
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
    const good = uids();
    const noStudy = uids();
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
    expect(referenced(res.json)).toEqual([good.sopInstanceUid]);
    expect(failedReasons(res.json)).toEqual([
      [noStudy.sopInstanceUid, 0xa900],
      [expect.any(String), 0xa900],
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
    const ids = uids();
    const res = await post(multipartBody([buildInstance(ids), Buffer.from("junk")], B), { Accept: "application/dicom+xml" });
    expect(res.status).toBe(202);
    expect(res.headers.get("content-type")).toBe("application/dicom+xml");
    expect(res.text).toContain('<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDEX">');
    expect(res.text).toContain(`<Value number="1">${ids.sopInstanceUid}</Value>`);
    expect(res.text).toMatch(/tag="0008119A" vr="SQ"[\s\S]*<Value number="1">49152<\/Value>/);
  });

  it.each([
    ["406 for an Accept nothing can satisfy", { Accept: "text/html" }, 406],
    ["415 for another media type", { "Content-Type": "application/dicom" }, 415],
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
    const ids = uids();
    const whole = multipartBody([buildInstance(ids), buildInstance()], B);
    const cut = whole.subarray(0, whole.length - 200);
    const res = await post(cut);
    expect(res.status).toBe(202);
    expect(referenced(res.json)).toEqual([ids.sopInstanceUid]);
    expect(failedReasons(res.json)).toEqual([[expect.any(String), 0xc000]]);
  });
});

describe("POST /studies/{StudyInstanceUID}", () => {
  it("stores instances of that study and fails others with 0xC409 without writing them", async () => {
    const study = newUid();
    const mine = { ...uids(), studyUid: study };
    const other = uids();
    const res = await post(multipartBody([buildInstance(mine), buildInstance(other)], B), {}, `/studies/${study}`);
    expect(res.status).toBe(202);
    expect(referenced(res.json)).toEqual([mine.sopInstanceUid]);
    expect(failedReasons(res.json)).toEqual([[other.sopInstanceUid, 0xc409]]);
    expect(await getObject(expectedKey(other))).toBeUndefined();
  });

  it.each([["1.2.3.."], ["..%2F1.2"], ["1.2.a"], ["0" + "1".repeat(70)]])("answers 400 for the path UID %s before reading the body", async (bad) => {
    const res = await post(multipartBody([buildInstance()], B), {}, `/studies/${bad}`);
    expect(res.status).toBe(400);
  });
});

// The duplicate rules hold whichever way the service learns what is at a key: the store refusing a
// conditional PUT (If-None-Match), or a HEAD before the write.
const DUPLICATE_MODES: Array<{ mode: string; plainStore: boolean; env: Record<string, string>; headsForNew: boolean }> = [
  { mode: "conditional writes (store honours If-None-Match)", plainStore: false, env: {}, headsForNew: false },
  { mode: "HEAD first (S3_CONDITIONAL_WRITES=off)", plainStore: false, env: { S3_CONDITIONAL_WRITES: "off" }, headsForNew: true },
  { mode: "HEAD first (store ignores If-None-Match, found by the probe)", plainStore: true, env: {}, headsForNew: true },
];

describe.each(DUPLICATE_MODES)("duplicates, $mode", ({ plainStore, env, headsForNew }) => {
  let store: S3rverHandle;
  let lenient: RunningService;
  let strict: RunningService;
  beforeAll(async () => {
    store = plainStore ? await startS3rver({ conditionalWrites: false }) : s3;
    lenient = await startInProcessService(store, { ...env });
    strict = await startInProcessService(store, { ...env, DUPLICATE_POLICY: "reject" });
  });
  afterAll(async () => {
    await lenient?.shutdown();
    await strict?.shutdown();
    if (plainStore) await store?.stop();
  });

  const head = (key: string) => store.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
  const read = (key: string) => getObject(key, store);
  const heads = async (service: RunningService) => {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    const count = (outcome: string) => Number(new RegExp(`^stowrs_s3_request_duration_seconds_count\\{operation="HeadObject",outcome="${outcome}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
    return count("ok") + count("error");
  };

  it(headsForNew ? "checks a new instance with a HEAD before writing it" : "writes a new instance without a HEAD first", async () => {
    const before = await heads(lenient);
    const ids = uids();
    expect((await post(multipartBody([buildInstance({ ...ids, pixels: 500 })], B), {}, "/studies", lenient)).status).toBe(200);
    expect((await heads(lenient)) - before).toBe(headsForNew ? 1 : 0);
  });

  it("acknowledges identical bytes without rewriting, and overwrites different bytes by default", async () => {
    const ids = uids();
    const first = buildInstance({ ...ids, pixels: 1000 });
    expect((await post(multipartBody([first], B), {}, "/studies", lenient)).status).toBe(200);
    const before = await head(expectedKey(ids));
    await new Promise((r) => setTimeout(r, 1100));
    const again = await post(multipartBody([first], B), {}, "/studies", lenient);
    expect(again.status).toBe(200);
    expect(referenced(again.json)).toEqual([ids.sopInstanceUid]);
    const after = await head(expectedKey(ids));
    expect(after.LastModified).toEqual(before.LastModified);

    const changed = buildInstance({ ...ids, pixels: 1002 });
    expect((await post(multipartBody([changed], B), {}, "/studies", lenient)).status).toBe(200);
    expect((await read(expectedKey(ids)))?.equals(changed)).toBe(true);
  });

  it("rejects different bytes with 0x0111 under DUPLICATE_POLICY=reject, keeping the first", async () => {
    const ids = uids();
    const first = buildInstance({ ...ids, pixels: 1000 });
    expect((await post(multipartBody([first], B), {}, "/studies", strict)).status).toBe(200);
    const identical = await post(multipartBody([first], B), {}, "/studies", strict);
    expect(identical.status).toBe(200);
    const different = await post(multipartBody([buildInstance({ ...ids, pixels: 1004 })], B), {}, "/studies", strict);
    expect(different.status).toBe(409);
    expect(failedReasons(different.json)).toEqual([[ids.sopInstanceUid, 0x0111]]);
    expect((await read(expectedKey(ids)))?.equals(first)).toBe(true);
  });

  it("applies the same rules to every instance of a multi-instance series", async () => {
    const series = { studyUid: newUid(), seriesUid: newUid() };
    // More than HEADS_BEFORE_LISTING in either mode, so the later ones are checked against the series listing.
    const ids = Array.from({ length: 12 }, () => ({ ...series, sopInstanceUid: newUid() }));
    const first = ids.map((i) => buildInstance({ ...i, pixels: 2000 }));
    expect((await post(multipartBody(first, B), {}, "/studies", strict)).status).toBe(200);
    const before = await Promise.all(ids.map((i) => head(expectedKey(i))));
    await new Promise((r) => setTimeout(r, 1100));
    const again = await post(multipartBody(first, B), {}, "/studies", strict);
    expect(again.status).toBe(200);
    expect(referenced(again.json)).toEqual(ids.map((i) => i.sopInstanceUid));
    const after = await Promise.all(ids.map((i) => head(expectedKey(i))));
    expect(after.map((h) => h.LastModified)).toEqual(before.map((h) => h.LastModified));
    const changed = await post(multipartBody(ids.map((i) => buildInstance({ ...i, pixels: 2002 })), B), {}, "/studies", strict);
    expect(changed.status).toBe(409);
    expect(failedReasons(changed.json)).toEqual(ids.map((i) => [i.sopInstanceUid, 0x0111]));
    for (const [n, i] of ids.entries()) expect((await read(expectedKey(i)))?.equals(first[n])).toBe(true);
  });

  it("settles two requests racing to store the same instance: both acknowledged, one object, the bytes sent", async () => {
    const ids = uids();
    const bytes = buildInstance({ ...ids, pixels: 3000 });
    const [a, b] = await Promise.all([1, 2].map(() => post(multipartBody([bytes], B), {}, "/studies", strict)));
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await read(expectedKey(ids)))?.equals(bytes)).toBe(true);
  });

  it("recognises an identical multipart-uploaded instance by its sha256 tag", async () => {
    const ids = uids();
    const big = buildInstance({ ...ids, pixels: 11 * 1024 * 1024 });
    expect((await post(multipartBody([big], B), {}, "/studies", strict)).status).toBe(200);
    expect((await post(multipartBody([big], B), {}, "/studies", strict)).status).toBe(200);
    const different = await post(multipartBody([buildInstance({ ...ids, pixels: 11 * 1024 * 1024 + 2 })], B), {}, "/studies", strict);
    expect(failedReasons(different.json)).toEqual([[ids.sopInstanceUid, 0x0111]]);
  });
});

describe("limits and settings", () => {
  it("fails an instance over MAX_INSTANCE_BYTES with 0xA700 and writes nothing for it", async () => {
    const small = await startInProcessService(s3, { MAX_INSTANCE_BYTES: "200000" });
    try {
      const big = uids();
      const ok = uids();
      const res = await post(multipartBody([buildInstance({ ...big, pixels: 300_000 }), buildInstance(ok)], B), {}, "/studies", small);
      expect(res.status).toBe(202);
      expect(failedReasons(res.json)).toEqual([[big.sopInstanceUid, 0xa700]]);
      expect(referenced(res.json)).toEqual([ok.sopInstanceUid]);
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
      const ids = uids();
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

describe("health, readiness and metrics", () => {
  it("reports liveness, readiness against the bucket, and Prometheus metrics", async () => {
    expect((await fetch(`${svc.url}/health`)).status).toBe(200);
    const ready = await fetch(`${svc.url}/ready`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/stowrs_instances_total\{outcome="stored",reason=""\} \d+/);
    expect(metrics).toMatch(/stowrs_requests_total\{status="202"\} \d+/);
    expect(metrics).toContain("stowrs_s3_request_duration_seconds_bucket");
    expect(metrics).toContain("stowrs_uploads_in_flight 0");
  });

  it("is not ready when the bucket does not exist", async () => {
    const wrong = await startInProcessService(s3, { S3_BUCKET: "no-such-bucket" });
    try {
      expect((await fetch(`${wrong.url}/ready`)).status).toBe(503);
      const res = await post(multipartBody([buildInstance()], B), {}, "/studies", wrong);
      expect(res.status).toBe(409);
      expect(failedReasons(res.json)[0][1]).toBe(0x0110);
    } finally {
      await wrong.shutdown();
    }
  });

  it("answers JSON 404 for unknown routes", async () => {
    const res = await fetch(`${svc.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ status: 404 });
  });
});
