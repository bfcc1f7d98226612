// Ten clients in a row start sending a 256 MiB instance and vanish at a random point. Each time
// the service aborts the upload, writes nothing at the instance's key and ends with no upload in
// flight; afterwards its memory and open files are back near where they started, and it stores
// the next study as if nothing had happened.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROBE_KEY_NAME } from "../../src/storage/conditional-writes.js";
import { buildInstance, newUid } from "../support/dicom.js";
import { startFaultyS3Proxy, type FaultyS3Proxy } from "../support/faulty-s3-proxy.js";
import { expectedKey } from "../support/key-layout.js";
import { largeInstance } from "../support/large-instance.js";
import { expectWordKept } from "../support/ledger.js";
import { fetchMetrics, metric } from "../support/metrics.js";
import { multipartBody, multipartContentType } from "../support/multipart.js";
import { piecewisePost } from "../support/piecewise-client.js";
import { procStats } from "../support/proc-stats.js";
import { getObject } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { seededRandom } from "../support/seeded-random.js";
import { startServiceProcess, type ServiceHandle } from "../support/service.js";
import { postStow } from "../support/stow-client.js";
import { MIB } from "../support/units.js";

const B = "vanishing-clients-boundary";
const CLIENTS = 10;
const PIXEL_BYTES = 256 * MIB;
/** Set RELIABILITY_SEED to replay a run; the seed in use is in the test names. */
const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 2 ** 31);

/**
 * The service with a way to collect garbage on SIGUSR2, so that memory retained by live objects
 * can be told apart from garbage not yet collected. Test-only; the service itself has no such hook.
 */
const GC_ON_SIGNAL = ["--expose-gc", "--import", `data:text/javascript,${encodeURIComponent("process.on('SIGUSR2', () => globalThis.gc())")}`];

/** Memory once garbage is collected: RSS, open files, and V8's heap and Buffer memory. */
async function settledMemory() {
  for (let i = 0; i < 2; i++) {
    process.kill(svc.pid, "SIGUSR2");
    await new Promise((r) => setTimeout(r, 300));
  }
  const metrics = await fetchMetrics(svc.url);
  return {
    ...procStats(svc.pid),
    heapBytes: metric(metrics, "stowrs_nodejs_heap_size_used_bytes")!,
    externalBytes: metric(metrics, "stowrs_nodejs_external_memory_bytes")!,
  };
}

let s3: S3rverHandle;
let proxy: FaultyS3Proxy;
let svc: ServiceHandle;
let baseline: Awaited<ReturnType<typeof settledMemory>>;
let peakRss = 0;
let sampler: NodeJS.Timeout;

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startFaultyS3Proxy(() => s3.port);
  svc = await startServiceProcess({ ...s3.env, S3_ENDPOINT: proxy.endpoint, LOGLEVEL: "WARNING" }, GC_ON_SIGNAL);
  // Warm up with one stored multipart instance, so the baseline includes a used S3 connection pool.
  const warm = { studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() };
  const bytes = buildInstance({ ...warm, pixels: 20 * MIB });
  expect((await postStow(svc.url, multipartBody([bytes], B), B)).status).toBe(200);
  baseline = await settledMemory();
  sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, procStats(svc.pid).rssBytes);
    } catch {
      /* exited */
    }
  }, 100);
});
afterAll(async () => {
  clearInterval(sampler);
  await svc?.stop();
  await proxy?.close();
  await s3?.stop();
});

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe(`ten clients vanishing mid-instance (seed ${SEED})`, () => {
  it("aborts every upload, writes nothing, and returns to baseline memory and file handles", async () => {
    const random = seededRandom(SEED);
    const cuts: number[] = [];
    for (let n = 0; n < CLIENTS; n++) {
      const ids = { studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() };
      const inst = largeInstance(ids, PIXEL_BYTES);
      const head = Buffer.from(`--${B}\r\nContent-Type: application/dicom\r\n\r\n`, "latin1");
      const cut = Math.floor(random() * (head.length + inst.length));
      cuts.push(cut);
      const post = piecewisePost(`${svc.url}/studies`, multipartContentType(B));
      let sent = 0;
      const send = async (piece: Buffer) => {
        const n = Math.min(piece.length, cut - sent);
        if (n > 0) await post.write(piece.subarray(0, n));
        sent += n;
      };
      await send(head);
      for (const piece of inst.pieces()) {
        if (sent >= cut) break;
        await send(piece);
      }
      // Half of the clients close their connection, half reset it.
      if (n % 2 === 0) post.vanish();
      else post.request.socket?.resetAndDestroy();
      await post.answer.then(
        (a) => expect.fail(`client ${n} got an answer after vanishing: ${a.status}`),
        () => undefined,
      );

      await until(async () => metric(await fetchMetrics(svc.url), "stowrs_uploads_in_flight") === 0, `no upload in flight after client ${n} (cut at ${cut})`);
      expect(await getObject(s3.client, s3.bucket, expectedKey(ids)), `object at the key of client ${n} (cut at ${cut})`).toBeUndefined();
    }

    // Every multipart upload that was started was aborted, none completed (besides the service's
    // probe for conditional completions, at the probe key).
    const notProbe = (operation: "CreateMultipartUpload" | "AbortMultipartUpload" | "CompleteMultipartUpload") =>
      proxy.count(operation) - proxy.count(operation, PROBE_KEY_NAME);
    const created = notProbe("CreateMultipartUpload");
    expect(notProbe("AbortMultipartUpload")).toBe(created - 1 /* warm-up */);
    expect(notProbe("CompleteMultipartUpload")).toBe(1);
    // The only single PUTs are the service's probe for conditional writes.
    expect(proxy.count("PutObject") - proxy.count("PutObject", PROBE_KEY_NAME)).toBe(0);

    const metrics = await fetchMetrics(svc.url);
    expect(metric(metrics, "stowrs_requests_total", { status: "500" })).toBeUndefined();

    // Handles settle back: a socket or file left behind per client would show here.
    let fds = procStats(svc.pid).fds;
    await until(() => (fds = procStats(svc.pid).fds) <= baseline.fds + 2, `open files back to ${baseline.fds} (now ${fds})`);
    // Nothing of the ten instances stays reachable: one retained part buffer alone would be 5 MiB.
    const after = await settledMemory();
    expect(after.externalBytes).toBeLessThan(baseline.externalBytes + 4 * MIB);
    expect(after.heapBytes).toBeLessThan(baseline.heapBytes + 4 * MIB);
    // The allocator may keep freed pages; RSS stays within one upload's buffers of the baseline.
    expect(after.rssBytes).toBeLessThan(baseline.rssBytes + 96 * MIB);
    console.log(
      JSON.stringify({
        test: "vanishing-clients",
        seed: SEED,
        cutsMiB: cuts.map((c) => +(c / MIB).toFixed(1)),
        multipartUploadsStarted: created - 1,
        aborted: proxy.count("AbortMultipartUpload"),
        baselineRssMiB: +(baseline.rssBytes / MIB).toFixed(1),
        peakRssMiB: +(peakRss / MIB).toFixed(1),
        afterRssMiB: +(after.rssBytes / MIB).toFixed(1),
        baselineHeapMiB: +(baseline.heapBytes / MIB).toFixed(1),
        afterHeapMiB: +(after.heapBytes / MIB).toFixed(1),
        baselineExternalMiB: +(baseline.externalBytes / MIB).toFixed(1),
        afterExternalMiB: +(after.externalBytes / MIB).toFixed(1),
        baselineFds: baseline.fds,
        afterFds: after.fds,
      }),
    );
  });

  it("still stores a study byte-exact afterwards, without a restart", async () => {
    const sent = [1, 2, 3].map(() => {
      const ids = { studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() };
      return { ...ids, bytes: buildInstance({ ...ids, pixels: 1 * MIB }) };
    });
    const res = await postStow(svc.url, multipartBody(sent.map((i) => i.bytes), B), B);
    expect(res.status).toBe(200);
    await expectWordKept(s3, sent, res, []);
    expect((await fetch(`${svc.url}/health`)).status).toBe(200);
  });
});
