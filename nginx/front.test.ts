// End to end: certificates in a bucket of the S3 test server, nginx/render
// and Debian's nginx in mutual-TLS mode, the real app behind it, and
// instances landing in S3.
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedKey } from "../app/test/support/key-layout.js";
import { multipartBody, multipartContentType } from "../app/test/support/multipart.js";
import type { S3rverHandle } from "../app/test/support/s3rver.js";
import { loadSamples } from "../app/test/support/samples.js";
import type { ServiceHandle } from "../app/test/support/service.js";
import { checkStoredObjects, checkStowReply, type SentPart, type StoredExpectation } from "../app/test/support/stow-check.js";
import { send, type TlsOptions } from "./testing/client.js";
import type { FrontHandle } from "./testing/front.js";
import { largeStowBody } from "./testing/large.js";
import { startMtlsStack, type MtlsStack } from "./testing/mtls-stack.js";
import { makePki, type Pki } from "./testing/pki.js";
import { until } from "./testing/wait.js";

let pki: Pki;
let pkiDir: string;
let s3: S3rverHandle;
let service: ServiceHandle;
let front: FrontHandle;
let stack: MtlsStack | undefined;
let samples: SentPart[];
let trusted: TlsOptions;

const BOUNDARY = "front-test-boundary";
const stowHeaders = { "content-type": multipartContentType(BOUNDARY), accept: "application/dicom+json" };

beforeAll(async () => {
  pkiDir = mkdtempSync(join(tmpdir(), "front-pki-"));
  pki = makePki(pkiDir);
  trusted = { ca: pki.ca.certPem, cert: pki.client.certPem, key: pki.client.keyPem };
  samples = loadSamples();
  stack = await startMtlsStack(pki);
  ({ s3, service, front } = stack);
});

afterAll(async () => {
  await stack?.stop();
  rmSync(pkiDir, { recursive: true, force: true });
});

const body = () => multipartBody(samples.map((s) => s.body), BOUNDARY);
const sample = (i: number) => samples[i].expect as StoredExpectation;

/** The app's "store request" log lines. */
function storeLines(): Array<Record<string, unknown>> {
  return service.logRecords().filter((l) => l.msg === "store request" || l.msg === "request rejected");
}

async function isStored(key: string): Promise<boolean> {
  return s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key })).then(
    () => true,
    (e: { name?: string }) => {
      if (e.name === "NotFound") return false;
      throw e;
    },
  );
}

/** nginx logged the one request after `logged` earlier lines, answered it itself and never contacted the app. */
async function expectNotForwarded(logged: number) {
  await until(() => front.accessLog().length > logged, "nginx's access-log line");
  const line = front.accessLog()[logged];
  expect(line).toMatchObject({ status: 400, upstreamSeconds: "" });
}

describe("FROMS3 + clientauth in front of the app", () => {
  it("refuses a request without a client certificate; the app sees nothing", async () => {
    const before = storeLines().length;
    const logged = front.accessLog().length;
    const reply = await send(`${front.url}/studies`, { method: "POST", headers: stowHeaders, body: body(), tls: { ca: pki.ca.certPem } });
    expect(reply.status).toBe(400);
    expect(reply.body).toContain("client certificate is required");
    await expectNotForwarded(logged);
    expect(storeLines()).toHaveLength(before);
    expect(await isStored(expectedKey(sample(0)))).toBe(false);
  });

  it("refuses a certificate from another CA; the app sees nothing", async () => {
    const before = storeLines().length;
    const logged = front.accessLog().length;
    const reply = await send(`${front.url}/studies`, {
      method: "POST",
      headers: stowHeaders,
      body: body(),
      tls: { ca: pki.ca.certPem, cert: pki.strangerClient.certPem, key: pki.strangerClient.keyPem },
    }).catch((error: Error) => ({ status: 0, body: error.message }));
    expect(reply.status).toBe(400);
    expect(reply.body).toContain("not accepted");
    await expectNotForwarded(logged);
    expect(storeLines()).toHaveLength(before);
    expect(await isStored(expectedKey(sample(0)))).toBe(false);
  });

  it("stores a STOW-RS request from a trusted client, and the app logs the verified DN", async () => {
    const reply = await send(`${front.url}/studies`, {
      method: "POST",
      headers: { ...stowHeaders, "x-client-dn": "CN=someone else" },
      body: body(),
      tls: trusted,
    });
    checkStowReply({ status: reply.status, contentType: String(reply.headers["content-type"]), text: reply.body }, samples, "POST /studies via nginx");
    await checkStoredObjects(s3.client, s3.bucket, samples);
    const find = () => storeLines().find((l) => l.path === "/studies" && l.status === 200);
    await until(() => find() !== undefined, "the app's log line");
    const line = find();
    expect(line, JSON.stringify(storeLines())).toMatchObject({ clientDn: pki.client.dn, stored: samples.length });
  });

  it("keeps the study UID in /studies/{uid}: the app checks it", async () => {
    const study = sample(0).studyUid;
    const matching = await send(`${front.url}/studies/${study}`, { method: "POST", headers: stowHeaders, body: body(), tls: trusted });
    expect(matching.status, matching.body).toBe(200);
    // A proxy that dropped the UID would store these under /studies and answer 200.
    const other = await send(`${front.url}/studies/2.25.1`, { method: "POST", headers: stowHeaders, body: body(), tls: trusted });
    expect(other.status, other.body).toBe(409);
    const paths = () => storeLines().map((l) => `${l.path} ${l.status}`);
    await until(() => paths().includes("/studies/2.25.1 409"), "the app's log lines");
    expect(paths()).toContain(`/studies/${study} 200`);
    expect(paths()).toContain("/studies/2.25.1 409");
  });

  it(
    "streams a 256 MiB instance through to S3",
    async () => {
      const large = largeStowBody(256 << 20, BOUNDARY);
      const started = Date.now();
      const reply = await send(`${front.url}/studies/${large.studyUid}`, {
        method: "POST",
        headers: { ...stowHeaders, "content-length": large.length },
        body: large.stream as Readable,
        tls: trusted,
      });
      const seconds = (Date.now() - started) / 1000;
      expect(reply.status, reply.body).toBe(200);
      const key = expectedKey(large);
      const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      expect(object.ContentLength).toBe(large.instanceBytes);
      const hash = createHash("sha256");
      for await (const chunk of object.Body as Readable) hash.update(chunk);
      expect(hash.digest("hex")).toBe(large.sha256());
      const find = () => storeLines().find((l) => l.path === `/studies/${large.studyUid}`);
      await until(() => find() !== undefined, "the app's log line");
      expect(find()).toMatchObject({ status: 200, stored: 1, clientDn: pki.client.dn });
      console.log(`256 MiB instance through nginx to S3 in ${seconds.toFixed(1)} s`);
    },
    300_000,
  );

  it("the health port reports the app's readiness", async () => {
    expect((await send(`${front.healthUrl}/ready`)).status).toBe(200);
    expect((await send(`${front.healthUrl}/health`)).status).toBe(200);
  });
});
