// Clients that send their body a byte now and then, against the service as a child process with
// MAX_INSTANCES_IN_FLIGHT=4 and a 5 s rate window: they hold no capacity while they trickle, are
// cut off with 408 (and the Store Instances Response for what they had stored) once they fall
// below BODY_MIN_BYTES_PER_SECOND over the window, and leave nothing half-written behind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedKey } from "../support/key-layout.js";
import { expectWordKept, sentInstance } from "../support/ledger.js";
import { fetchMetrics, metric } from "../support/metrics.js";
import { multipartBody, multipartContentType } from "../support/multipart.js";
import { rawExchange, type RawOutcome } from "../support/raw-http.js";
import { getObject, listKeys, openUploads } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../support/service.js";
import { failedItems, referencedUids } from "../support/store-response.js";
import { postStow } from "../support/stow-client.js";
import { MIB } from "../support/units.js";

const B = "slow-sender-boundary";
const CAPACITY = 4;
const WINDOW_S = 5;
const TRICKLERS = 8;

let s3: S3rverHandle;
let svc: ServiceHandle;

beforeAll(async () => {
  s3 = await startS3rver();
  svc = await startServiceProcess({
    ...s3.env,
    MAX_INSTANCES_IN_FLIGHT: String(CAPACITY),
    BODY_RATE_WINDOW_SECONDS: String(WINDOW_S),
    BODY_MIN_BYTES_PER_SECOND: "1024",
    UPLOAD_PART_SIZE_MIB: "5",
  });
});
afterAll(async () => {
  await svc?.stop();
  await s3?.stop();
});

function head(length: number): string {
  return `POST /studies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${multipartContentType(B)}\r\nAccept: application/dicom+json\r\nContent-Length: ${length}\r\n\r\n`;
}

/** Sends `fast` at once, then the rest of `body` one byte a second, until the service answers. */
function trickle(body: Buffer, fast: number): Promise<RawOutcome & { ms: number }> {
  const t0 = performance.now();
  const pieces: Array<Buffer | number> = [body.subarray(0, fast)];
  for (let at = fast; at < Math.min(body.length, fast + 60); at++) pieces.push(1000, body.subarray(at, at + 1));
  return rawExchange(svc.port, head(body.length), { pieces, timeoutMs: 40_000 }).then((o) => ({ ...o, ms: performance.now() - t0 }));
}

/** The JSON body of a raw answer. */
function jsonOf(outcome: RawOutcome): any {
  return JSON.parse(outcome.text.slice(outcome.text.indexOf("\r\n\r\n") + 4));
}

describe(`slow senders: MAX_INSTANCES_IN_FLIGHT=${CAPACITY}, BODY_RATE_WINDOW_SECONDS=${WINDOW_S}`, () => {
  it(`${TRICKLERS} clients sending one byte a second hold no slot, are cut off with 408, and a normal sender is stored meanwhile`, async () => {
    // Every body is built before the clock starts: the bound is the service's, not the test's.
    const trickled = Array.from({ length: TRICKLERS }, () => sentInstance(100_000));
    const trickledBodies = trickled.map((i) => multipartBody([i.bytes], B));
    const normal = [sentInstance(300_000)];
    const normalBody = multipartBody([normal[0].bytes], B);

    const t0 = performance.now();
    const tricklers = trickledBodies.map((body) => trickle(body, 0));
    // All of them are connected and trickling before the normal sender comes.
    await new Promise((r) => setTimeout(r, 1_500));

    let answer = await postStow(svc.url, normalBody, B);
    while (answer.status === 503 && performance.now() - t0 < (WINDOW_S + 5) * 1000) {
      await new Promise((r) => setTimeout(r, 250));
      answer = await postStow(svc.url, normalBody, B);
    }
    const storedAfterMs = performance.now() - t0;
    expect(answer.status, answer.text).toBe(200);
    expect(storedAfterMs).toBeLessThan((WINDOW_S + 5) * 1000);
    await expectWordKept(s3, normal, answer, []);

    const outcomes = await Promise.all(tricklers);
    for (const o of outcomes) {
      // 408, then the connection closed: not before one window, and long before the trickle
      // would have ended by itself (60 s), with room for a loaded machine.
      expect(o.statuses, o.text.slice(0, 300)).toEqual([408]);
      expect(o.ms).toBeGreaterThan(WINDOW_S * 1000 - 500);
      expect(o.ms).toBeLessThan((WINDOW_S + 20) * 1000);
      const json = jsonOf(o);
      expect(referencedUids(json)).toEqual([]);
    }
    // Nothing of theirs is in the bucket, whole or in part.
    for (const i of trickled) {
      expect(await getObject(s3.client, s3.bucket, expectedKey(i))).toBeUndefined();
      expect(await openUploads(s3.dir, s3.bucket, expectedKey(i))).toEqual([]);
    }
    expect(await listKeys(s3.client, s3.bucket)).toEqual([expectedKey(normal[0])]);

    const metrics = await fetchMetrics(svc.url);
    expect(metric(metrics, "stowrs_requests_total", { status: "408" })).toBe(TRICKLERS);
    expect(metric(metrics, "stowrs_uploads_in_flight")).toBe(0);
    // Every slot is free again: as many requests as there are slots are all taken on at once.
    const after = Array.from({ length: CAPACITY }, () => [sentInstance(200_000)]);
    const answers = await Promise.all(after.map((sent) => postStow(svc.url, multipartBody(sent.map((i) => i.bytes), B), B)));
    for (const [n, a] of answers.entries()) {
      expect(a.status).toBe(200);
      await expectWordKept(s3, after[n], a, []);
    }
    console.log(JSON.stringify({ test: "slow-senders", tricklers: TRICKLERS, windowSeconds: WINDOW_S, normalStoredAfterMs: Math.round(storedAfterMs), cutAfterMs: outcomes.map((o) => Math.round(o.ms)) }));
  });

  it("cuts off a client that stalls mid-request: 408 listing what was stored, its multipart upload aborted, nothing at the key being read", async () => {
    const sent = [sentInstance(50_000), sentInstance(12 * MIB)];
    const body = multipartBody(
      sent.map((i) => i.bytes),
      B,
    );
    // The first instance and half of the second (more than one 5 MiB part: a multipart upload is under way) at once, then a trickle.
    const outcome = await trickle(body, sent[0].bytes.length + 6 * MIB);
    expect(outcome.statuses, outcome.text.slice(0, 300)).toEqual([408]);
    expect(outcome.ms).toBeLessThan((WINDOW_S + 10) * 1000);
    const json = jsonOf(outcome);
    expect(referencedUids(json)).toEqual([sent[0].sopInstanceUid]);
    expect(failedItems(json)).toEqual([{ uid: sent[1].sopInstanceUid, reason: 0xa700 }]);
    await expectWordKept(s3, sent, { json, status: 408 }, [0xa700]);
    expect(await openUploads(s3.dir, s3.bucket, expectedKey(sent[1]))).toEqual([]);
    const metrics = await fetchMetrics(svc.url);
    expect(metric(metrics, "stowrs_upload_aborts_total")).toBeGreaterThanOrEqual(1);
    expect(metric(metrics, "stowrs_uploads_in_flight")).toBe(0);
  });
});
