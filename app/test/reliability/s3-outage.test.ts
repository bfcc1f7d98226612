// S3 goes away in the middle of a multi-instance request (its process is killed) and comes back:
// whatever the service acknowledged is in S3 byte for byte, everything else is failed with 0xA700
// or 0x0110, the request is answered within a bounded time, and the same service stores again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningService } from "../../src/server.js";
import { Reason } from "../../src/stow/reasons.js";
import { startInProcessService } from "../support/in-process.js";
import { expectedKey } from "../support/key-layout.js";
import { expectWordKept, sentInstance, type SentInstance } from "../support/ledger.js";
import { fetchMetrics, metric } from "../support/metrics.js";
import { multipartBody, multipartContentType } from "../support/multipart.js";
import { piecewisePost, writeInPieces } from "../support/piecewise-client.js";
import { getObject } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { postStow } from "../support/stow-client.js";
import { MIB } from "../support/units.js";

const B = "s3-outage-boundary";
const ALLOWED = [Reason.OutOfResources, Reason.ProcessingFailure];
/** S3_MAX_ATTEMPTS x S3_REQUEST_TIMEOUT_SECONDS plus backoff, with room for a loaded machine. */
const ANSWER_BOUND_MS = 30_000;

let s3: S3rverHandle;
let svc: RunningService;

beforeAll(async () => {
  s3 = await startS3rver();
  svc = await startInProcessService(s3, { S3_MAX_ATTEMPTS: "2", S3_REQUEST_TIMEOUT_SECONDS: "2", UPLOAD_PART_SIZE_MIB: "5" });
});
afterAll(async () => {
  await svc?.shutdown();
  await s3?.stop();
});

/** Four small instances, one that needs a multipart upload, three small ones. */
function study(): SentInstance[] {
  return [...[1, 2, 3, 4].map(() => sentInstance(200_000)), sentInstance(30 * MIB), ...[1, 2, 3].map(() => sentInstance(200_000))];
}

async function until(check: () => Promise<boolean>, what: string, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function uploadedParts(): Promise<number> {
  return metric(await fetchMetrics(svc.url), "stowrs_s3_request_duration_seconds_count", { operation: "UploadPart", outcome: "ok" }) ?? 0;
}

/** Sends the study, kills S3 once `killWhen` says so, and returns the answer and when it came. */
async function storeThroughOutage(sent: SentInstance[], killWhen: (sent: number) => Promise<boolean>) {
  const body = multipartBody(
    sent.map((i) => i.bytes),
    B,
  );
  const post = piecewisePost(`${svc.url}/studies`, multipartContentType(B));
  let killed = false;
  await writeInPieces(post, body, 64 * 1024, async (n) => {
    if (!killed && (await killWhen(n))) {
      await s3.kill();
      killed = true;
    }
  });
  post.end();
  const bodySentAt = Date.now();
  const answer = await post.answer;
  expect(killed, "S3 was killed during the request").toBe(true);
  return { answer, ms: Date.now() - bodySentAt };
}

describe("S3 killed in the middle of a multi-instance request", () => {
  it("keeps its word while a large instance is being uploaded in parts, and stores again once S3 is back", async () => {
    const sent = study();
    const bigStart = sent.slice(0, 4).reduce((n, i) => n + i.bytes.length, 0);
    const { answer, ms } = await storeThroughOutage(sent, async (n) => {
      // Kill once the four small instances are stored and the large one has parts in S3.
      if (n < bigStart + 12 * MIB) return false;
      const small = await Promise.all(sent.slice(0, 4).map((i) => getObject(s3.client, s3.bucket, expectedKey(i))));
      return small.every(Boolean) && (await uploadedParts()) >= 1;
    });
    expect(ms).toBeLessThan(ANSWER_BOUND_MS);
    expect(answer.status).toBe(202);
    console.log(JSON.stringify({ test: "s3-outage", killedAt: "mid multipart upload", answeredMsAfterBody: ms, status: answer.status }));
    const ready = await fetch(`${svc.url}/ready`);
    expect(ready.status).toBe(503);

    await s3.restart();
    const { stored, failed } = await expectWordKept(s3, sent, answer, ALLOWED);
    expect(stored).toEqual(sent.slice(0, 4).map((i) => i.sopInstanceUid));
    expect(failed).toEqual(sent.slice(4).map((i) => i.sopInstanceUid));

    // The same service, not restarted, stores the next study.
    const next = [sentInstance(100_000), sentInstance(7 * MIB)];
    const res = await postStow(svc.url, multipartBody(next.map((i) => i.bytes), B), B);
    expect(res.status).toBe(200);
    await expectWordKept(s3, next, res, []);
    await expect.poll(async () => (await fetch(`${svc.url}/ready`)).status, { timeout: 10_000, interval: 500 }).toBe(200);
    expect(metric(await fetchMetrics(svc.url), "stowrs_uploads_in_flight")).toBe(0);
  });

  it.each([0.15, 0.45, 0.8])("keeps its word when S3 dies after %s of the body, wherever that falls", async (fraction) => {
    const sent = study();
    const total = sent.reduce((n, i) => n + i.bytes.length, 0);
    const { answer, ms } = await storeThroughOutage(sent, async (n) => n >= total * fraction);
    expect(ms).toBeLessThan(ANSWER_BOUND_MS);
    expect([202, 409]).toContain(answer.status);
    console.log(JSON.stringify({ test: "s3-outage", killedAt: `${fraction} of the body`, answeredMsAfterBody: ms, status: answer.status }));
    await s3.restart();
    // S3 may have stored an instance and died before it could say so (see expectWordKept).
    await expectWordKept(s3, sent, answer, ALLOWED, { afterS3Crash: true });

    const next = [sentInstance(50_000)];
    const res = await postStow(svc.url, multipartBody(next.map((i) => i.bytes), B), B);
    expect(res.status).toBe(200);
    await expectWordKept(s3, next, res, []);
  });
});
