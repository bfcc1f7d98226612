// Revocation and the subject allowlist end to end: a CRL and ALLOWED_CLIENT_SUBJECTS in the
// front before the real app, storing into the S3 test server. One CA, three client
// certificates: one revoked by the CRL, one on the allowlist, one valid but not on it.
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedKey } from "../app/test/support/key-layout.js";
import { multipartBody, multipartContentType } from "../app/test/support/multipart.js";
import { loadSamples } from "../app/test/support/samples.js";
import { checkStoredObjects, checkStowReply, type SentPart, type StoredExpectation } from "../app/test/support/stow-check.js";
import { certBucket, frontFiles } from "./testing/bucket.js";
import { send, type Reply, type TlsOptions } from "./testing/client.js";
import { startFront, type FrontHandle } from "./testing/front.js";
import { startMtlsStack, type MtlsStack } from "./testing/mtls-stack.js";
import { makePki, type Pki } from "./testing/pki.js";
import { until } from "./testing/wait.js";

let pki: Pki;
let pkiDir: string;
let stack: MtlsStack | undefined;
let expiredFront: FrontHandle | undefined;
let samples: SentPart[];

const BOUNDARY = "revocation-test-boundary";
const stowHeaders = { "content-type": multipartContentType(BOUNDARY), accept: "application/dicom+json" };
const body = () => multipartBody(samples.map((s) => s.body), BOUNDARY);

beforeAll(async () => {
  pkiDir = mkdtempSync(join(tmpdir(), "front-pki-"));
  pki = makePki(pkiDir);
  samples = loadSamples();
  stack = await startMtlsStack(pki, {
    files: { "crl.pem": pki.crl.current },
    env: {
      CRL_REQUIRED: "true",
      // The revoked certificate is listed too: revocation must win. modality-1 is listed in
      // other letters only, which must not let it in (the comparison is exact).
      ALLOWED_CLIENT_SUBJECTS: JSON.stringify([pki.secondClient.dn, pki.revokedClient.dn, pki.client.dn.toUpperCase()]),
    },
  });
});

afterAll(async () => {
  await expiredFront?.stop();
  await stack?.stop();
  rmSync(pkiDir, { recursive: true, force: true });
});

const tlsOf = (who: { certPem: string; keyPem: string }): TlsOptions => ({ ca: pki.ca.certPem, cert: who.certPem, key: who.keyPem });

/** What the client saw: an HTTP answer, or the TLS/socket error if there was none. */
const attempt = (url: string, who: { certPem: string; keyPem: string }): Promise<Reply | { status: 0; body: string }> =>
  send(`${url}/studies`, { method: "POST", headers: stowHeaders, body: body(), tls: tlsOf(who) }).catch((e: Error) => ({ status: 0, body: e.message }));

async function isStored(key: string): Promise<boolean> {
  const { s3 } = stack!;
  return s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key })).then(
    () => true,
    (e: { name?: string }) => {
      if (e.name === "NotFound") return false;
      throw e;
    },
  );
}

/** The app's log lines about store requests: none means nginx kept the request to itself. */
const appRequests = () => stack!.service.logRecords().filter((l) => l.msg === "store request" || l.msg === "request rejected");

describe("crl.pem and ALLOWED_CLIENT_SUBJECTS before the real app", () => {
  it("refuses the revoked certificate: nginx completes the handshake, then answers 400 'certificate revoked'; nothing reaches the app", async () => {
    const before = appRequests().length;
    const logged = stack!.front.accessLog().length;
    const reply = await attempt(stack!.front.url, pki.revokedClient);
    expect(reply).toMatchObject({ status: 400, body: "The client certificate was not accepted (FAILED:certificate revoked).\n" });
    await until(() => stack!.front.accessLog().length > logged, "nginx's access-log line");
    expect(stack!.front.accessLog()[logged]).toMatchObject({ status: 400, upstreamSeconds: "" });
    expect(appRequests()).toHaveLength(before);
    expect(await isStored(expectedKey(samples[0].expect as StoredExpectation))).toBe(false);
  });

  it("answers 403 to a valid certificate whose subject is not on the list (case counts); nothing stored", async () => {
    const before = appRequests().length;
    const reply = await attempt(stack!.front.url, pki.client);
    expect(reply).toMatchObject({
      status: 403,
      body: `The client certificate "${pki.client.dn}" is valid but not allowed to send to this endpoint.\n`,
    });
    expect(appRequests()).toHaveLength(before);
    expect(await isStored(expectedKey(samples[0].expect as StoredExpectation))).toBe(false);
  });

  it("stores the samples sent with the listed, unrevoked certificate, and the app logs its subject", async () => {
    const reply = await send(`${stack!.front.url}/studies`, { method: "POST", headers: stowHeaders, body: body(), tls: tlsOf(pki.secondClient) });
    checkStowReply({ status: reply.status, contentType: String(reply.headers["content-type"]), text: reply.body }, samples, "POST /studies via nginx with a CRL");
    await checkStoredObjects(stack!.s3.client, stack!.s3.bucket, samples);
    const line = () => appRequests().find((l) => l.status === 200);
    await until(() => line() !== undefined, "the app's log line");
    expect(line()).toMatchObject({ clientDn: pki.secondClient.dn, stored: samples.length });
  });

  it("with the CA's CRL past its nextUpdate, render logs an ERROR and nginx refuses every certificate of that CA ('CRL has expired')", async () => {
    const { s3, service } = stack!;
    const bucket = "expired-crl-certs";
    const certs = await certBucket(s3, bucket, { ...frontFiles(pki), "crl.pem": pki.crl.expired });
    expiredFront = await startFront({ env: { AUTH_MODE: "clientauth", ...certs, CRL_REQUIRED: "true", UPSTREAM: `127.0.0.1:${service.port}` } });
    expect(expiredFront.output()).toContain(
      `ERROR: s3://${bucket}/crl.pem: the CRL of "CN=Trusted Test CA,O=Front Test" expired at ${pki.crl.expiredNextUpdate}`,
    );
    const before = appRequests().length;
    for (const who of [pki.client, pki.secondClient]) {
      expect(await attempt(expiredFront.url, who)).toMatchObject({ status: 400, body: "The client certificate was not accepted (FAILED:CRL has expired).\n" });
    }
    expect(appRequests()).toHaveLength(before);
  });
});
