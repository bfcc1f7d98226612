// SIGTERM while uploads are in flight, against the service as a child process: it stops taking
// new connections, lets the requests in flight finish (or, past SHUTDOWN_TIMEOUT_SECONDS, cuts
// them off without a success answer), never leaves a partial object, and exits 0.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildInstance, newUid } from "../support/dicom.js";
import { startFaultyS3Proxy, type FaultyS3Proxy } from "../support/faulty-s3-proxy.js";
import { expectedKey } from "../support/key-layout.js";
import { expectWordKept, type SentInstance } from "../support/ledger.js";
import { fetchMetrics, metric } from "../support/metrics.js";
import { multipartBody, multipartContentType } from "../support/multipart.js";
import { piecewisePost, writeInPieces, type PiecewisePost } from "../support/piecewise-client.js";
import { getObject } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../support/service.js";
import { MIB } from "../support/units.js";

const B = "sigterm-boundary";

let s3: S3rverHandle;
let proxy: FaultyS3Proxy;
let svc: ServiceHandle | undefined;

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startFaultyS3Proxy(() => s3.port);
});
afterEach(async () => {
  await svc?.stop("SIGKILL");
  svc = undefined;
  proxy.clearRules();
});
afterAll(async () => {
  await proxy?.close();
  await s3?.stop();
});

function instance(pixels: number): SentInstance {
  const ids = { studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() };
  return { ...ids, bytes: buildInstance({ ...ids, pixels }) };
}

async function start(env: Record<string, string>) {
  svc = await startServiceProcess({ ...s3.env, S3_ENDPOINT: proxy.endpoint, UPLOAD_PART_SIZE_MIB: "5", ...env });
  return svc;
}

/** Starts a request and sends the first `fraction` of its body. */
async function begin(url: string, sent: SentInstance[], fraction: number): Promise<{ post: PiecewisePost; rest: Buffer }> {
  const body = multipartBody(
    sent.map((i) => i.bytes),
    B,
  );
  const post = piecewisePost(`${url}/studies`, multipartContentType(B));
  const split = Math.floor(body.length * fraction);
  await writeInPieces(post, body.subarray(0, split), 256 * 1024);
  return { post, rest: body.subarray(split) };
}

async function uploadsInFlight(url: string): Promise<number | undefined> {
  return metric(await fetchMetrics(url), "stowrs_uploads_in_flight");
}

async function connectionRefused(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`);
    // An answer is acceptable only as a refusal.
    return res.status === 503;
  } catch (err: any) {
    return err?.cause?.code === "ECONNREFUSED";
  }
}

describe("SIGTERM during uploads", () => {
  it("finishes the requests in flight, stores them byte-exact, refuses new connections and exits 0", async () => {
    const service = await start({ SHUTDOWN_TIMEOUT_SECONDS: "60" });
    const studies = [0, 1, 2].map(() => [instance(12 * MIB), instance(100_000), instance(300_000)]);
    const started = await Promise.all(studies.map((sent) => begin(service.url, sent, 0.5)));
    // Every request is under way (its large instance's header was read) and parts are on their way to S3.
    for (const sent of studies) await expect.poll(() => proxy.count("HeadObject", expectedKey(sent[0])), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => proxy.count("UploadPart"), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);

    const exited = service.stop("SIGTERM");
    await expect.poll(() => service.logs().some((l) => l.includes('"signal received"')), { timeout: 5_000 }).toBe(true);
    expect(await connectionRefused(service.url)).toBe(true);

    // The clients carry on and get their full answers.
    await Promise.all(started.map(({ post, rest }) => writeInPieces(post, rest, 256 * 1024).then(() => post.end())));
    const answers = await Promise.all(started.map(({ post }) => post.answer));
    for (const [n, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      await expectWordKept(s3, studies[n], answer, []);
    }
    expect(await exited).toBe(0);
  });

  it("past SHUTDOWN_TIMEOUT_SECONDS cuts off a stalled request without a success answer, writes nothing for it, and exits 0", async () => {
    const service = await start({ SHUTDOWN_TIMEOUT_SECONDS: "1" });
    const stalled = [instance(100_000), instance(20 * MIB)];
    const quick = [instance(200_000)];
    // The stalled client sends its first instance and half of its large one, then stops sending.
    const { post: stalledPost } = await begin(service.url, stalled, 0.5);
    await expect.poll(() => proxy.count("UploadPart", expectedKey(stalled[1])), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    // Only the stalled large instance is in flight (its small first one is stored)...
    await expect.poll(() => uploadsInFlight(service.url), { timeout: 10_000 }).toBe(1);
    const { post: quickPost, rest } = await begin(service.url, quick, 0.5);
    // ...and the quick one is taken on before the signal (a request that arrives after it gets 503).
    await expect.poll(() => uploadsInFlight(service.url), { timeout: 10_000 }).toBe(2);

    const exited = service.stop("SIGTERM");
    // A client that finishes within the timeout still gets its answer.
    await writeInPieces(quickPost, rest, 64 * 1024);
    quickPost.end();
    const quickAnswer = await quickPost.answer;
    expect(quickAnswer.status).toBe(200);
    await expectWordKept(s3, quick, quickAnswer, []);

    // The stalled one is cut off: no answer at all rather than a claim about instances it never finished.
    await expect(stalledPost.answer).rejects.toThrow();
    expect(await exited).toBe(0);
    // Its complete first instance may have been stored; its large one is nowhere.
    expect(await getObject(s3.client, s3.bucket, expectedKey(stalled[1]))).toBeUndefined();
    const first = await getObject(s3.client, s3.bucket, expectedKey(stalled[0]));
    if (first) expect(first.equals(stalled[0].bytes)).toBe(true);
    // The multipart upload was aborted before the process exited.
    expect(proxy.count("AbortMultipartUpload", expectedKey(stalled[1]))).toBe(1);
  });

  it("closes idle keep-alive connections at once and exits 0 when nothing is in flight", async () => {
    const service = await start({ SHUTDOWN_TIMEOUT_SECONDS: "60" });
    const sent = [instance(10_000)];
    const res = await fetch(`${service.url}/studies`, {
      method: "POST",
      headers: { "Content-Type": multipartContentType(B) },
      body: new Uint8Array(multipartBody([sent[0].bytes], B)),
    });
    expect(res.status).toBe(200);
    await res.text();
    const t0 = Date.now();
    expect(await service.stop("SIGTERM")).toBe(0);
    // Not held up by the idle connection fetch keeps open.
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
