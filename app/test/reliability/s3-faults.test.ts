// S3 slow, throttling, failing or dropping connections, between the service and a real S3 server:
// transient faults are retried away, persistent ones end in an honest failure after a bounded
// number of attempts, and no request waits forever.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningService } from "../../src/server.js";
import { Reason } from "../../src/stow/reasons.js";
import { buildInstance } from "../support/dicom.js";
import { startFaultyS3Proxy, type FaultyS3Proxy, type S3Operation } from "../support/faulty-s3-proxy.js";
import { startInProcessService } from "../support/in-process.js";
import { expectedKey } from "../support/key-layout.js";
import { expectWordKept, sentInstance, type SentInstance } from "../support/ledger.js";
import { fetchMetrics, metric } from "../support/metrics.js";
import { multipartBody } from "../support/multipart.js";
import { getObject } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { failedItems, referencedUids } from "../support/store-response.js";
import { postStow } from "../support/stow-client.js";
import { MIB } from "../support/units.js";

const B = "s3-faults-boundary";
const MAX_ATTEMPTS = 3;
const UNAVAILABLE = [Reason.OutOfResources];

let s3: S3rverHandle;
let proxy: FaultyS3Proxy;
let svc: RunningService | undefined;

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startFaultyS3Proxy(() => s3.port);
});
afterEach(async () => {
  await svc?.shutdown();
  svc = undefined;
  proxy.clearRules();
});
afterAll(async () => {
  await proxy?.close();
  await s3?.stop();
});

/** A fresh service per test: the SDK's retry quota is per client, and each test must see the full budget. */
async function service(env: Record<string, string> = {}) {
  svc = await startInProcessService(s3, {
    S3_ENDPOINT: proxy.endpoint,
    S3_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    S3_REQUEST_TIMEOUT_SECONDS: "2",
    UPLOAD_PART_SIZE_MIB: "5",
    ...env,
  });
  return svc;
}

const on = (operation: S3Operation, key?: string) => (r: { operation: S3Operation; key?: string }) =>
  r.operation === operation && (key === undefined || r.key === key);

async function store(sent: SentInstance[]) {
  return postStow(svc!.url, multipartBody(sent.map((i) => i.bytes), B), B);
}

describe("transient S3 faults are retried away", () => {
  it.each([
    ["503 SlowDown", { kind: "error", status: 503, code: "SlowDown" }],
    ["500 InternalError", { kind: "error", status: 500, code: "InternalError" }],
    ["503 ServiceUnavailable", { kind: "error", status: 503, code: "ServiceUnavailable" }],
    ["a connection cut while the body is sent", { kind: "cut", afterBytes: 1000 }],
    ["an answer lost after S3 stored the object", { kind: "lose-answer" }],
  ] as const)("a PutObject answered once with %s is retried and the instance stored byte-exact", async (_, fault) => {
    await service();
    const a = sentInstance();
    proxy.addRule({ match: on("PutObject", expectedKey(a)), fault, times: 1 });
    const res = await store([a]);
    expect(res.status).toBe(200);
    await expectWordKept(s3, [a], res, []);
    expect(proxy.count("PutObject", expectedKey(a))).toBe(2);
  });

  it("a 2 MiB instance (sent as it arrived, in many chunks, in one PutObject) cut mid-body is sent again from its first byte", async () => {
    await service();
    const a = sentInstance(2 * MIB);
    proxy.addRule({ match: on("PutObject", expectedKey(a)), fault: { kind: "cut", afterBytes: 700_000 }, times: 2 });
    const res = await store([a]);
    expect(res.status).toBe(200);
    await expectWordKept(s3, [a], res, []);
    expect(proxy.count("PutObject", expectedKey(a))).toBe(3);
  });

  it("a multipart upload with a failing CreateMultipartUpload, UploadPart and cut part is retried and stored byte-exact", async () => {
    await service();
    const big = sentInstance(17 * MIB);
    const key = expectedKey(big);
    proxy.addRule({ match: on("CreateMultipartUpload", key), fault: { kind: "error", status: 500, code: "InternalError" }, times: 1 });
    proxy.addRule({ match: on("UploadPart", key), fault: { kind: "error", status: 503, code: "SlowDown" }, times: 2 });
    proxy.addRule({ match: on("UploadPart", key), fault: { kind: "cut", afterBytes: 64 * 1024 }, times: 1 });
    const res = await store([big]);
    expect(res.status).toBe(200);
    await expectWordKept(s3, [big], res, []);
    expect(proxy.count("CreateMultipartUpload", key)).toBe(2);
    // Four parts of 5 MiB, three of them sent twice.
    expect(proxy.count("UploadPart", key)).toBe(4 + 3);
  });

  it("a CompleteMultipartUpload whose answer is lost is not reported as a failure while the object is stored", async () => {
    await service();
    const big = sentInstance(11 * MIB);
    proxy.addRule({ match: on("CompleteMultipartUpload", expectedKey(big)), fault: { kind: "lose-answer" }, times: 1 });
    const res = await store([big]);
    // The retries of CompleteMultipartUpload fail (the upload is no longer open), yet the object is there.
    expect(proxy.count("CompleteMultipartUpload", expectedKey(big))).toBeGreaterThanOrEqual(2);
    expect(res.status).toBe(200);
    await expectWordKept(s3, [big], res, []);
  });

  it("a PutObject whose answer is lost, and whose retries are refused, is reported stored because S3 holds the bytes", async () => {
    await service();
    const a = sentInstance();
    proxy.addRule({ match: on("PutObject", expectedKey(a)), fault: { kind: "lose-answer" }, times: 1 });
    proxy.addRule({ match: on("PutObject", expectedKey(a)), fault: { kind: "error", status: 503, code: "SlowDown" } });
    const res = await store([a]);
    expect(res.status).toBe(200);
    await expectWordKept(s3, [a], res, []);
  });
});

describe("persistent S3 faults end in an honest failure after bounded retries", () => {
  it.each([
    ["503 SlowDown", { kind: "error", status: 503, code: "SlowDown" }],
    ["500 InternalError", { kind: "error", status: 500, code: "InternalError" }],
    ["connections cut", { kind: "cut", afterBytes: 100 }],
  ] as const)("a small instance whose PutObject always gets %s fails with 0xA700 after S3_MAX_ATTEMPTS; the others are stored", async (_, fault) => {
    await service();
    const doomed = sentInstance();
    const fine = [sentInstance(), sentInstance()];
    proxy.addRule({ match: on("PutObject", expectedKey(doomed)), fault });
    const res = await store([fine[0], doomed, fine[1]]);
    expect(res.status).toBe(202);
    const { failed } = await expectWordKept(s3, [...fine, doomed], res, UNAVAILABLE);
    expect(failed).toEqual([doomed.sopInstanceUid]);
    expect(proxy.count("PutObject", expectedKey(doomed))).toBe(MAX_ATTEMPTS);
    expect(res.headers.get("warning")).toMatch(/^299 .*(SlowDown|InternalError|socket|ECONNRESET|hang up)/i);
  });

  it("retries with backoff: the attempts are spread out, not sent back to back", async () => {
    await service({ S3_MAX_ATTEMPTS: "5" });
    const doomed = sentInstance();
    proxy.addRule({ match: on("PutObject", expectedKey(doomed)), fault: { kind: "error", status: 503, code: "SlowDown" } });
    const res = await store([doomed]);
    expect(res.status).toBe(409);
    const times = proxy.requests.filter((r) => r.operation === "PutObject" && r.key === expectedKey(doomed)).map((r) => r.at);
    expect(times).toHaveLength(5);
    // Full-jitter backoff draws each wait from [0, 100 ms * 2^attempt): four waits summing to
    // under 20 ms would mean no backoff at all (chance with backoff: well under one in a million).
    expect(times[4] - times[0]).toBeGreaterThan(20);
  });

  it("a large instance whose parts always get SlowDown fails with 0xA700, its multipart upload is aborted, nothing is at its key", async () => {
    await service();
    const big = sentInstance(12 * MIB);
    const after = sentInstance();
    const key = expectedKey(big);
    proxy.addRule({ match: on("UploadPart", key), fault: { kind: "error", status: 503, code: "SlowDown" } });
    const res = await store([big, after]);
    // S3 is known to be unavailable once the large instance failed; what follows may fail fast too.
    expect([409, 202]).toContain(res.status);
    const { failed } = await expectWordKept(s3, [big, after], res, UNAVAILABLE);
    expect(failed).toContain(big.sopInstanceUid);
    expect(proxy.count("AbortMultipartUpload", key)).toBe(1);
    expect(proxy.count("CompleteMultipartUpload", key)).toBe(0);
    const metrics = await fetchMetrics(svc!.url);
    expect(metric(metrics, "stowrs_uploads_in_flight")).toBe(0);
    expect(metric(metrics, "stowrs_upload_aborts_total")).toBe(1);
    expect(metric(metrics, "stowrs_instances_total", { outcome: "failed", reason: String(Reason.OutOfResources) })).toBeGreaterThanOrEqual(1);
    // Bytes count as stored only when S3 acknowledged them; every byte of the body counts as received.
    const storedBytes = [big, after].filter((i) => !failed.includes(i.sopInstanceUid)).reduce((n, i) => n + i.bytes.length, 0);
    expect(metric(metrics, "stowrs_bytes_stored_total")).toBe(storedBytes);
    expect(metric(metrics, "stowrs_bytes_received_total")).toBe(multipartBody([big.bytes, after.bytes], B).length);
  });

  it.each([
    ["refused (403)", { kind: "error", status: 403, code: "AccessDenied" }, [Reason.ProcessingFailure]],
    ["throttled (SlowDown)", { kind: "error", status: 503, code: "SlowDown" }, UNAVAILABLE],
  ] as const)("a part %s while the instance's data is still arriving fails the instance, and the request is answered", async (_, fault, reasons) => {
    await service({ UPLOAD_PART_CONCURRENCY: "2" });
    const big = sentInstance(40 * MIB);
    const after = sentInstance();
    proxy.addRule({ match: on("UploadPart", expectedKey(big)), fault });
    const res = await store([big, after]);
    expect([202, 409]).toContain(res.status);
    const { failed } = await expectWordKept(s3, [big, after], res, [...reasons, Reason.OutOfResources]);
    expect(failed).toContain(big.sopInstanceUid);
    expect(metric(await fetchMetrics(svc!.url), "stowrs_uploads_in_flight")).toBe(0);
  });

  it("a CompleteMultipartUpload that always fails leaves nothing at the key and reports 0xA700", async () => {
    await service();
    const big = sentInstance(6 * MIB);
    proxy.addRule({ match: on("CompleteMultipartUpload", expectedKey(big)), fault: { kind: "error", status: 500, code: "InternalError" } });
    const res = await store([big]);
    expect(res.status).toBe(409);
    await expectWordKept(s3, [big], res, UNAVAILABLE);
    expect(proxy.count("CompleteMultipartUpload", expectedKey(big))).toBe(MAX_ATTEMPTS);
  });

  it("a refusal (403 AccessDenied) is not retried and fails with 0x0110", async () => {
    await service();
    const denied = sentInstance();
    proxy.addRule({ match: on("PutObject", expectedKey(denied)), fault: { kind: "error", status: 403, code: "AccessDenied" } });
    const res = await store([denied]);
    expect(res.status).toBe(409);
    await expectWordKept(s3, [denied], res, [Reason.ProcessingFailure]);
    expect(proxy.count("PutObject", expectedKey(denied))).toBe(1);
  });

  it("the duplicate check failing with 503 fails the instance with 0xA700 instead of writing blind (HEAD first)", async () => {
    await service({ S3_CONDITIONAL_WRITES: "off" });
    const a = sentInstance();
    proxy.addRule({ match: on("HeadObject", expectedKey(a)), fault: { kind: "error", status: 503, code: "SlowDown" } });
    const res = await store([a]);
    expect(res.status).toBe(409);
    await expectWordKept(s3, [a], res, UNAVAILABLE);
    expect(proxy.count("PutObject", expectedKey(a))).toBe(0);
  });

  it("the duplicate check failing with 503 after a refused conditional PUT fails the instance with 0xA700 and keeps what is stored", async () => {
    await service();
    const a = sentInstance();
    expect((await store([a])).status).toBe(200);
    const changed = { ...a, bytes: buildInstance({ ...a, pixels: 2050 }) };
    proxy.addRule({ match: on("HeadObject", expectedKey(a)), fault: { kind: "error", status: 503, code: "SlowDown" } });
    const res = await store([changed]);
    expect(res.status).toBe(409);
    expect(proxy.count("PutObject", expectedKey(a))).toBe(2); // the first store, and the refused conditional one
    expect(failedItems(res.json)).toEqual([expect.objectContaining({ uid: a.sopInstanceUid, reason: Reason.OutOfResources })]);
    expect((await getObject(s3.client, s3.bucket, expectedKey(a)))?.equals(a.bytes)).toBe(true);
  });

  it("a conditional PUT refused again and again while nothing is at the key fails with 0x0110 after a bounded number of rounds", async () => {
    await service();
    const a = sentInstance();
    proxy.addRule({ match: on("PutObject", expectedKey(a)), fault: { kind: "error", status: 409, code: "ConditionalRequestConflict" } });
    const res = await store([a]);
    expect(res.status).toBe(409);
    await expectWordKept(s3, [a], res, [Reason.ProcessingFailure]);
    expect(proxy.count("PutObject", expectedKey(a))).toBe(3);
  });

  it("a failing sha256 tag does not fail an instance S3 stored", async () => {
    await service();
    const big = sentInstance(6 * MIB);
    proxy.addRule({ match: on("PutObjectTagging", expectedKey(big)), fault: { kind: "error", status: 500, code: "InternalError" } });
    const res = await store([big]);
    expect(res.status).toBe(200);
    await expectWordKept(s3, [big], res, []);
  });
});

describe("slow S3", () => {
  it("answers within the S3 request timeout when S3 does not answer, failing the stuck instance with 0xA700", async () => {
    await service({ S3_REQUEST_TIMEOUT_SECONDS: "1", S3_MAX_ATTEMPTS: "2" });
    const stuck = sentInstance();
    const fine = sentInstance();
    // S3 sits on the request far longer than the service may wait.
    proxy.addRule({ match: on("PutObject", expectedKey(stuck)), fault: { kind: "delay", ms: 60_000 } });
    const res = await store([fine, stuck]);
    expect(res.status).toBe(202);
    await expectWordKept(s3, [fine, stuck], res, UNAVAILABLE);
    // Two attempts of one second each plus backoff, far from S3's minute.
    expect(res.ms).toBeLessThan(15_000);
    console.log(JSON.stringify({ test: "s3-faults", case: "S3 silent for 60 s, S3_REQUEST_TIMEOUT_SECONDS=1, S3_MAX_ATTEMPTS=2", answeredMs: res.ms }));
    expect(proxy.count("PutObject", expectedKey(stuck))).toBe(2);
  });

  it("stores byte-exact through an S3 that is slow but within the timeout", async () => {
    await service({ S3_REQUEST_TIMEOUT_SECONDS: "5" });
    const big = sentInstance(11 * MIB);
    const small = sentInstance();
    proxy.addRule({ match: (r) => r.operation === "UploadPart" || r.operation === "PutObject", fault: { kind: "delay", ms: 300 } });
    const res = await store([big, small]);
    expect(res.status).toBe(200);
    expect(referencedUids(res.json)).toEqual([big.sopInstanceUid, small.sopInstanceUid]);
    await expectWordKept(s3, [big, small], res, []);
  });
});

describe("after the faults", () => {
  it("the same service stores normally once S3 recovers", async () => {
    await service();
    const first = sentInstance();
    proxy.addRule({ match: on("PutObject"), fault: { kind: "error", status: 503, code: "SlowDown" } });
    expect((await store([first])).status).toBe(409);
    proxy.clearRules();
    const next = [sentInstance(), sentInstance(7 * MIB)];
    const res = await store(next);
    expect(res.status).toBe(200);
    await expectWordKept(s3, next, res, []);
    expect(await getObject(s3.client, s3.bucket, expectedKey(first))).toBeUndefined();
  });
});
