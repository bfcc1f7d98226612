// The duplicate rules of the store transaction (DUPLICATE_POLICY, identical bytes, racing
// requests), end to end: real HTTP, the real service, a real S3-compatible server.
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInstance, newInstanceUids, newUid } from "../../test/support/dicom.js";
import { startInProcessService } from "../../test/support/in-process.js";
import { expectedKey } from "../../test/support/key-layout.js";
import { metric } from "../../test/support/metrics.js";
import { multipartBody } from "../../test/support/multipart.js";
import { getObject, openUploads } from "../../test/support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { failedItems, referencedUids } from "../../test/support/store-response.js";
import { postStow } from "../../test/support/stow-client.js";
import type { RunningService } from "../server.js";
import { HEADS_BEFORE_LISTING } from "../storage/series-listing.js";

/** The store the modes that honour If-None-Match share. */
let s3: S3rverHandle;

beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.stop();
});

const B = "stow-test-boundary";

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
  const read = (key: string) => getObject(store.client, store.bucket, key);
  const heads = async (service: RunningService) => {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    const count = (outcome: string) => metric(text, "stowrs_s3_request_duration_seconds_count", { operation: "HeadObject", outcome }) ?? 0;
    return count("ok") + count("error");
  };
  /** PUTs the store accepted (refused conditional ones are not writes). */
  const puts = async (service: RunningService) =>
    metric(await (await fetch(`${service.url}/metrics`)).text(), "stowrs_s3_request_duration_seconds_count", { operation: "PutObject", outcome: "ok" }) ?? 0;
  /**
   * Two copies of one instance behind enough other instances of its series that, in every mode,
   * both copies are looked up in the series listing, and that listing was taken before the first
   * copy was written.
   */
  const pastTheListing = (copies: Buffer[], series: { studyUid: string; seriesUid: string }) => {
    const others = Array.from({ length: HEADS_BEFORE_LISTING.conditional }, () => ({ ...series, sopInstanceUid: newUid() }));
    return { others, body: multipartBody([...others.map((i) => buildInstance({ ...i, pixels: 300 })), ...copies], B) };
  };

  it(headsForNew ? "checks a new instance with a HEAD before writing it" : "writes a new instance without a HEAD first", async () => {
    const before = await heads(lenient);
    const ids = newInstanceUids();
    expect((await postStow(lenient.url, multipartBody([buildInstance({ ...ids, pixels: 500 })], B), B)).status).toBe(200);
    expect((await heads(lenient)) - before).toBe(headsForNew ? 1 : 0);
  });

  it("acknowledges identical bytes without rewriting, and overwrites different bytes by default", async () => {
    const ids = newInstanceUids();
    const first = buildInstance({ ...ids, pixels: 1000 });
    expect((await postStow(lenient.url, multipartBody([first], B), B)).status).toBe(200);
    const before = await head(expectedKey(ids));
    await new Promise((r) => setTimeout(r, 1100));
    const again = await postStow(lenient.url, multipartBody([first], B), B);
    expect(again.status).toBe(200);
    expect(referencedUids(again.json)).toEqual([ids.sopInstanceUid]);
    const after = await head(expectedKey(ids));
    expect(after.LastModified).toEqual(before.LastModified);

    const changed = buildInstance({ ...ids, pixels: 1002 });
    expect((await postStow(lenient.url, multipartBody([changed], B), B)).status).toBe(200);
    expect((await read(expectedKey(ids)))?.equals(changed)).toBe(true);
  });

  it("rejects different bytes with 0x0111 under DUPLICATE_POLICY=reject, keeping the first", async () => {
    const ids = newInstanceUids();
    const first = buildInstance({ ...ids, pixels: 1000 });
    expect((await postStow(strict.url, multipartBody([first], B), B)).status).toBe(200);
    const identical = await postStow(strict.url, multipartBody([first], B), B);
    expect(identical.status).toBe(200);
    const different = await postStow(strict.url, multipartBody([buildInstance({ ...ids, pixels: 1004 })], B), B);
    expect(different.status).toBe(409);
    expect(failedItems(different.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0x0111 }]);
    expect((await read(expectedKey(ids)))?.equals(first)).toBe(true);
  });

  it("applies the same rules to every instance of a multi-instance series", async () => {
    const series = { studyUid: newUid(), seriesUid: newUid() };
    // More than HEADS_BEFORE_LISTING in either mode, so the later ones are checked against the series listing.
    const ids = Array.from({ length: 12 }, () => ({ ...series, sopInstanceUid: newUid() }));
    const first = ids.map((i) => buildInstance({ ...i, pixels: 2000 }));
    expect((await postStow(strict.url, multipartBody(first, B), B)).status).toBe(200);
    const before = await Promise.all(ids.map((i) => head(expectedKey(i))));
    await new Promise((r) => setTimeout(r, 1100));
    const again = await postStow(strict.url, multipartBody(first, B), B);
    expect(again.status).toBe(200);
    expect(referencedUids(again.json)).toEqual(ids.map((i) => i.sopInstanceUid));
    const after = await Promise.all(ids.map((i) => head(expectedKey(i))));
    expect(after.map((h) => h.LastModified)).toEqual(before.map((h) => h.LastModified));
    const changed = await postStow(strict.url, multipartBody(ids.map((i) => buildInstance({ ...i, pixels: 2002 })), B), B);
    expect(changed.status).toBe(409);
    expect(failedItems(changed.json)).toEqual(ids.map((i) => ({ uid: i.sopInstanceUid, reason: 0x0111 })));
    for (const [n, i] of ids.entries()) expect((await read(expectedKey(i)))?.equals(first[n])).toBe(true);
  });

  it("settles two requests racing to store the same instance: both acknowledged, one object, the bytes sent", async () => {
    const ids = newInstanceUids();
    const bytes = buildInstance({ ...ids, pixels: 3000 });
    const [a, b] = await Promise.all([1, 2].map(() => postStow(strict.url, multipartBody([bytes], B), B)));
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await read(expectedKey(ids)))?.equals(bytes)).toBe(true);
  });

  it("applies the rules in part order to an instance sent twice in one request (one object, never a race)", async () => {
    // 4 MiB: long enough to write that a second upload racing the first would find it half-written.
    const same = newInstanceUids();
    const bytes = buildInstance({ ...same, pixels: 4 * 1024 * 1024 });
    const twice = await postStow(strict.url, multipartBody([bytes, bytes], B), B);
    expect(twice.status).toBe(200);
    expect(referencedUids(twice.json)).toEqual([same.sopInstanceUid, same.sopInstanceUid]);
    expect((await read(expectedKey(same)))?.equals(bytes)).toBe(true);

    const ids = newInstanceUids();
    const first = buildInstance({ ...ids, pixels: 4 * 1024 * 1024 });
    const second = buildInstance({ ...ids, pixels: 4 * 1024 * 1024 + 2 });
    const rejected = await postStow(strict.url, multipartBody([first, second], B), B);
    expect(rejected.status).toBe(202);
    expect(referencedUids(rejected.json)).toEqual([ids.sopInstanceUid]);
    expect(failedItems(rejected.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0x0111 }]);
    expect((await read(expectedKey(ids)))?.equals(first)).toBe(true);

    const other = newInstanceUids();
    const older = buildInstance({ ...other, pixels: 4 * 1024 * 1024 });
    const newer = buildInstance({ ...other, pixels: 4 * 1024 * 1024 + 2 });
    const overwritten = await postStow(lenient.url, multipartBody([older, newer], B), B);
    expect(overwritten.status).toBe(200);
    expect((await read(expectedKey(other)))?.equals(newer)).toBe(true);
  });

  it("acknowledges an identical second copy in one request without writing it, after its series was listed", async () => {
    const same = newInstanceUids();
    const bytes = buildInstance({ ...same, pixels: 1000 });
    const sent = pastTheListing([bytes, bytes], same);
    const putsBefore = await puts(strict);
    const twice = await postStow(strict.url, sent.body, B);
    expect(twice.status).toBe(200);
    expect(referencedUids(twice.json)).toEqual([...sent.others.map((i) => i.sopInstanceUid), same.sopInstanceUid, same.sopInstanceUid]);
    expect((await read(expectedKey(same)))?.equals(bytes)).toBe(true);
    expect((await puts(strict)) - putsBefore).toBe(sent.others.length + 1);
  });

  it("rejects a differing second copy in one request with 0x0111 after its series was listed, keeping the first", async () => {
    const ids = newInstanceUids();
    const first = buildInstance({ ...ids, pixels: 1000 });
    const sent = pastTheListing([first, buildInstance({ ...ids, pixels: 1002 })], ids);
    const rejected = await postStow(strict.url, sent.body, B);
    expect(rejected.status).toBe(202);
    expect(failedItems(rejected.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0x0111 }]);
    expect(referencedUids(rejected.json)).toEqual([...sent.others.map((i) => i.sopInstanceUid), ids.sopInstanceUid]);
    expect((await read(expectedKey(ids)))?.equals(first)).toBe(true);
  });

  it("overwrites with a differing second copy in one request by default, after its series was listed", async () => {
    const ids = newInstanceUids();
    const newer = buildInstance({ ...ids, pixels: 1002 });
    const overwritten = await postStow(lenient.url, pastTheListing([buildInstance({ ...ids, pixels: 1000 }), newer], ids).body, B);
    expect(overwritten.status).toBe(200);
    expect((await read(expectedKey(ids)))?.equals(newer)).toBe(true);
  });

  it("rejects a differing second copy larger than one part after its series was listed (a multipart upload has no condition)", async () => {
    const ids = newInstanceUids();
    const first = buildInstance({ ...ids, pixels: 6 * 1024 * 1024 });
    const rejected = await postStow(strict.url, pastTheListing([first, buildInstance({ ...ids, pixels: 6 * 1024 * 1024 + 2 })], ids).body, B);
    expect(rejected.status).toBe(202);
    expect(failedItems(rejected.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0x0111 }]);
    expect((await read(expectedKey(ids)))?.equals(first)).toBe(true);
  });

  it("recognises an identical multipart-uploaded instance by its sha256 tag", async () => {
    const ids = newInstanceUids();
    const big = buildInstance({ ...ids, pixels: 11 * 1024 * 1024 });
    expect((await postStow(strict.url, multipartBody([big], B), B)).status).toBe(200);
    expect((await postStow(strict.url, multipartBody([big], B), B)).status).toBe(200);
    const different = await postStow(strict.url, multipartBody([buildInstance({ ...ids, pixels: 11 * 1024 * 1024 + 2 })], B), B);
    expect(failedItems(different.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0x0111 }]);
  });
});

// Only a store that refuses a conditional completion can settle this race; without conditional
// writes the last completion wins (README, duplicates).
describe("duplicates larger than one part, racing (store honours If-None-Match on completion)", () => {
  let strict: RunningService;
  beforeAll(async () => {
    strict = await startInProcessService(s3, { DUPLICATE_POLICY: "reject" });
  });
  afterAll(async () => {
    await strict?.shutdown();
  });

  it("stores one of two different large copies sent at once in two requests and rejects the other with 0x0111", async () => {
    const ids = newInstanceUids();
    const copies = [buildInstance({ ...ids, pixels: 11 * 1024 * 1024 }), buildInstance({ ...ids, pixels: 11 * 1024 * 1024 + 2 })];
    const answers = await Promise.all(copies.map((copy) => postStow(strict.url, multipartBody([copy], B), B)));
    const stored = answers.findIndex((a) => a.status === 200);
    expect(stored).toBeGreaterThanOrEqual(0);
    const other = answers[1 - stored]!;
    expect(other.status).toBe(409);
    expect(failedItems(other.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0x0111 }]);
    expect(referencedUids(answers[stored]!.json)).toEqual([ids.sopInstanceUid]);
    expect((await getObject(s3.client, s3.bucket, expectedKey(ids)))?.equals(copies[stored]!)).toBe(true);
    expect(await openUploads(s3.dir, s3.bucket, expectedKey(ids))).toEqual([]);
  });

  it("acknowledges both of two identical large copies sent at once in two requests, storing them once", async () => {
    const ids = newInstanceUids();
    const bytes = buildInstance({ ...ids, pixels: 11 * 1024 * 1024 });
    const answers = await Promise.all([1, 2].map(() => postStow(strict.url, multipartBody([bytes], B), B)));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    for (const a of answers) expect(referencedUids(a.json)).toEqual([ids.sopInstanceUid]);
    expect((await getObject(s3.client, s3.bucket, expectedKey(ids)))?.equals(bytes)).toBe(true);
    expect(await openUploads(s3.dir, s3.bucket, expectedKey(ids))).toEqual([]);
  });
});
