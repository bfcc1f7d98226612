// GET /health, GET /ready and GET /metrics, and the JSON 404 for other routes: real HTTP, the
// real service, a real S3-compatible server.
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInstance } from "../../test/support/dicom.js";
import { startInProcessService } from "../../test/support/in-process.js";
import { multipartBody } from "../../test/support/multipart.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { failedItems } from "../../test/support/store-response.js";
import { postStow } from "../../test/support/stow-client.js";
import { loadConfig } from "../config.js";
import { startService, type RunningService } from "../server.js";

const B = "stow-test-boundary";

let s3: S3rverHandle;
let svc: RunningService;

beforeAll(async () => {
  s3 = await startS3rver();
  svc = await startInProcessService(s3, { UPLOAD_PART_SIZE_MIB: "5" });
  // The metrics below count what the service did: one instance stored and one part refused (202).
  const mixed = await postStow(svc.url, multipartBody([buildInstance(), Buffer.from("junk")], B), B);
  expect(mixed.status).toBe(202);
});
afterAll(async () => {
  await svc?.shutdown();
  await s3?.stop();
});

describe("health, readiness and metrics", () => {
  it("reports liveness, readiness against the bucket, and Prometheus metrics", async () => {
    expect((await fetch(`${svc.url}/health`)).status).toBe(200);
    const ready = await fetch(`${svc.url}/ready`);
    expect(ready.status).toBe(200);
    // Open to anyone who reaches the port: ready or not, nothing about the bucket.
    expect(await ready.json()).toEqual({ status: "ready" });
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/stowrs_instances_total\{outcome="stored",reason=""\} \d+/);
    expect(metrics).toMatch(/stowrs_requests_total\{status="202"\} \d+/);
    expect(metrics).toContain("stowrs_s3_request_duration_seconds_bucket");
    expect(metrics).toContain("stowrs_uploads_in_flight 0");
  });

  it("is not ready when the bucket does not exist, says no more than that, and logs why", async () => {
    const lines: string[] = [];
    const wrong = await startService(
      loadConfig({ HOST: "127.0.0.1", PORT: "0", ...s3.env, S3_BUCKET: "no-such-bucket" }),
      pino({ level: "info" }, { write: (line: string) => void lines.push(line) }),
    );
    try {
      const ready = await fetch(`${wrong.url}/ready`);
      expect(ready.status).toBe(503);
      const text = await ready.text();
      expect(JSON.parse(text)).toEqual({ status: "not ready" });
      expect(text).not.toMatch(/no-such-bucket|NoSuchBucket|404/);
      const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "not ready: the bucket does not answer");
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ level: 40, bucket: "no-such-bucket", error: expect.stringMatching(/NoSuchBucket|404|NotFound/) });
      // Probed again (after the cache), the same failure is not logged again.
      await new Promise((r) => setTimeout(r, 3_100));
      expect((await fetch(`${wrong.url}/ready`)).status).toBe(503);
      expect(lines.filter((l) => l.includes("not ready: the bucket"))).toHaveLength(1);
      const res = await postStow(wrong.url, multipartBody([buildInstance()], B), B);
      expect(res.status).toBe(409);
      expect(failedItems(res.json)[0].reason).toBe(0x0110);
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
