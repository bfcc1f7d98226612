// More work than MAX_INSTANCES_IN_FLIGHT allows, against the service as a child process with a
// slow S3: the excess is refused at once with 503 and Retry-After (nothing written for it), the
// admitted requests are stored byte-exact, memory stays bounded, and the refused ones succeed on
// retry once the load has passed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultyS3Proxy, type FaultyS3Proxy } from "../support/faulty-s3-proxy.js";
import { expectedKey } from "../support/key-layout.js";
import { expectWordKept, sentInstance } from "../support/ledger.js";
import { fetchMetrics, metric } from "../support/metrics.js";
import { multipartBody, multipartContentType } from "../support/multipart.js";
import { piecewisePost } from "../support/piecewise-client.js";
import { procStats } from "../support/proc-stats.js";
import { getObject } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../support/service.js";
import { postStow, type StowReply } from "../support/stow-client.js";
import { MIB } from "../support/units.js";

const B = "overload-boundary";
const CAPACITY = 4;
const CLIENTS = 48;
const S3_DELAY_MS = 1_500;

let s3: S3rverHandle;
let proxy: FaultyS3Proxy;
let svc: ServiceHandle;

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startFaultyS3Proxy(() => s3.port);
  svc = await startServiceProcess({ ...s3.env, S3_ENDPOINT: proxy.endpoint, MAX_INSTANCES_IN_FLIGHT: String(CAPACITY), UPLOAD_PART_SIZE_MIB: "5", LOGLEVEL: "WARNING" });
});
afterAll(async () => {
  await svc?.stop();
  await proxy?.close();
  await s3?.stop();
});

describe(`overload: ${CLIENTS} clients at once, MAX_INSTANCES_IN_FLIGHT=${CAPACITY}, S3 answering after ${S3_DELAY_MS} ms`, () => {
  it("refuses the excess with 503 and Retry-After, stores what it admitted, and keeps memory bounded", async () => {
    const warm = [sentInstance(1 * MIB)];
    expect((await postStow(svc.url, multipartBody(warm.map((i) => i.bytes), B), B)).status).toBe(200);
    const baseline = procStats(svc.pid).rssBytes;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, procStats(svc.pid).rssBytes)), 50);

    // S3 is slow: every admitted instance holds its slot for a while.
    proxy.addRule({ match: (r) => r.operation === "PutObject" || r.operation === "UploadPart", fault: { kind: "delay", ms: S3_DELAY_MS } });
    const studies = Array.from({ length: CLIENTS }, () => [sentInstance(2 * MIB), sentInstance(3 * MIB)]);
    let answers: StowReply[];
    try {
      answers = await Promise.all(studies.map((sent) => postStow(svc.url, multipartBody(sent.map((i) => i.bytes), B), B)));
    } finally {
      clearInterval(sampler);
      proxy.clearRules();
    }

    const statuses = answers.map((a) => a.status);
    const refused = answers.flatMap((a, n) => (a.status === 503 ? [n] : []));
    for (const s of statuses) expect([200, 503]).toContain(s);
    expect(refused.length, `statuses ${statuses.join(",")}`).toBeGreaterThan(0);
    expect(CLIENTS - refused.length).toBeGreaterThanOrEqual(CAPACITY / 2);
    for (const n of refused) {
      expect(answers[n].headers.get("retry-after")).toMatch(/^\d+$/);
      expect(answers[n].json?.error).toMatch(/capacity/);
      // Refused before any of its instances was uploaded: nothing of it is in S3.
      for (const i of studies[n]) expect(await getObject(s3.client, s3.bucket, expectedKey(i))).toBeUndefined();
    }
    for (const [n, a] of answers.entries()) if (a.status === 200) await expectWordKept(s3, studies[n], a, []);

    const metrics = await fetchMetrics(svc.url);
    expect(metric(metrics, "stowrs_overload_rejections_total")).toBe(refused.length);
    expect(metric(metrics, "stowrs_requests_total", { status: "503" })).toBe(refused.length);
    expect(metric(metrics, "stowrs_uploads_in_flight")).toBe(0);
    // Memory is bounded by the admitted work (4 instances, each at most one 5 MiB part buffered
    // and one in flight), not by the 48 x 5 MiB that was offered.
    expect(peak - baseline).toBeLessThan(120 * MIB);

    // Once the load has passed, the refused clients' retries (one after another) are stored.
    for (const n of refused) {
      const a = await postStow(svc.url, multipartBody(studies[n].map((i) => i.bytes), B), B);
      expect(a.status).toBe(200);
      await expectWordKept(s3, studies[n], a, []);
    }
    console.log(
      JSON.stringify({
        test: "overload",
        clients: CLIENTS,
        capacity: CAPACITY,
        admitted: CLIENTS - refused.length,
        refused503: refused.length,
        baselineRssMiB: +(baseline / MIB).toFixed(1),
        peakRssMiB: +(peak / MIB).toFixed(1),
      }),
    );
  });

  it("holds no slot for requests still sending their first bytes, and admits no more than it has slots when their first instances arrive together", async () => {
    const bytesReceived = async () => metric(await fetchMetrics(svc.url), "stowrs_bytes_received_total") ?? 0;
    const received = await bytesReceived();
    const sent = Array.from({ length: 3 * CAPACITY }, () => [sentInstance(200_000)]);
    const bodies = sent.map((s) => multipartBody(s.map((i) => i.bytes), B));
    const posts = sent.map(() => piecewisePost(`${svc.url}/studies`, multipartContentType(B)));
    const answered: Array<StowReply | undefined> = posts.map(() => undefined);
    posts.forEach((p, n) => p.answer.then((a) => (answered[n] = a)).catch(() => undefined));
    // Every request starts (its head and a few bytes of body), none yet has a DICOM header to read:
    // none holds a slot, so none is refused (a trickling client holds no capacity).
    await Promise.all(posts.map((p, n) => p.write(bodies[n].subarray(0, 64))));
    await expect.poll(() => bytesReceived(), { timeout: 10_000 }).toBeGreaterThanOrEqual(received + 3 * CAPACITY * 64);
    expect(answered.filter((a) => a !== undefined)).toHaveLength(0);
    expect(metric(await fetchMetrics(svc.url), "stowrs_uploads_in_flight")).toBe(0);
    // Now each sends past its instance's header: beyond capacity, the answer is 503 now, not a place in a queue.
    const HEAD_BYTES = 40_000;
    await Promise.all(posts.map((p, n) => p.write(bodies[n].subarray(64, HEAD_BYTES))));
    await expect.poll(() => answered.filter((a) => a?.status === 503).length, { timeout: 10_000 }).toBe(2 * CAPACITY);
    for (const a of answered) if (a) expect(a.headers.get("retry-after")).toMatch(/^\d+$/);
    // The admitted ones carry on and are stored; the refused ones hang up, having their answer.
    const admitted = posts.flatMap((p, n) => (answered[n] ? (p.vanish(), []) : [n]));
    expect(admitted).toHaveLength(CAPACITY);
    await Promise.all(admitted.map((n) => posts[n].write(bodies[n].subarray(HEAD_BYTES)).then(() => posts[n].end())));
    for (const n of admitted) {
      const a = await posts[n].answer;
      expect(a.status).toBe(200);
      await expectWordKept(s3, sent[n], a, []);
    }
  });
});
