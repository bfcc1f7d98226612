// Bearer tokens through the front: nginx in AUTH_MODE=oidc (TLS) and clientauth+oidc (mutual
// TLS), the real app checking tokens from a real OpenID provider (oidc-provider on 127.0.0.1),
// the npm dicomweb-client sending the token as a header. nginx passes Authorization through
// untouched and writes it to no log.
import { mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { multipartBody, multipartContentType } from "../app/test/support/multipart.js";
import { READER } from "../app/test/support/oidc-issuer.js";
import { listKeys } from "../app/test/support/s3-objects.js";
import { loadSamples } from "../app/test/support/samples.js";
import { checkStoredObjects, checkStowReply, type SentPart } from "../app/test/support/stow-check.js";
import { send } from "./testing/client.js";
import { storeWithDicomwebClient } from "./testing/dicomweb-store.js";
import { startOidcStack, type OidcStack } from "./testing/oidc-stack.js";
import { makePki, type Pki } from "./testing/pki.js";
import { until } from "./testing/wait.js";

let pki: Pki;
let pkiDir: string;
let stack: OidcStack | undefined;
let samples: SentPart[];
const tokens: string[] = [];

beforeAll(async () => {
  pkiDir = mkdtempSync(join(tmpdir(), "front-oidc-pki-"));
  pki = makePki(pkiDir);
  samples = loadSamples();
  stack = await startOidcStack(pki, ["oidc", "clientauth+oidc"]);
});

afterAll(async () => {
  await stack?.stop();
  rmSync(pkiDir, { recursive: true, force: true });
});

const writerToken = async () => {
  const t = await stack!.issuer.token();
  tokens.push(t);
  return t;
};
const stored = async () => (await listKeys(stack!.s3.client, stack!.s3.bucket)).filter((k) => !k.includes(".stowrs/"));

/** dicomweb-client's storeInstances through the oidc front, with the headers given to the client. */
const storeWithClient = (headers: Record<string, string>) =>
  storeWithDicomwebClient({ url: stack!.fronts.oidc.url, agent: new Agent({ ca: pki.ca.certPem }), instances: samples.map((s) => s.body), headers });

describe("the oidc front (TLS) with dicomweb-client", () => {
  it("is refused without a token (401 and the app's WWW-Authenticate), and with a token lacking the scope (403)", async () => {
    const none = await storeWithClient({});
    expect(none.resolved).toBe(false);
    expect(none.status).toBe(401);
    expect(none.wwwAuthenticate).toBe('Bearer realm="stowrs"');
    const reader = await stack!.issuer.token({ client: READER, scope: "dicomweb.read" });
    tokens.push(reader);
    const scopeless = await storeWithClient({ Authorization: `Bearer ${reader}` });
    expect(scopeless.status).toBe(403);
    expect(scopeless.wwwAuthenticate).toMatch(/error="insufficient_scope".*scope="dicomweb.write"/);
    expect(await stored()).toEqual([]);
  });

  it("stores the samples with a bearer header; the app logs the token's client", async () => {
    const result = await storeWithClient({ Authorization: `Bearer ${await writerToken()}` });
    expect(result.resolved, result.text).toBe(true);
    checkStowReply(result, samples, "dicomweb-client with a bearer token via nginx");
    await checkStoredObjects(stack!.s3.client, stack!.s3.bucket, samples);
    const lines = () => stack!.service.logRecords("store request");
    await until(() => lines().length >= 1, "the app's store line");
    expect(lines().at(-1)).toMatchObject({ status: 200, sub: "modality-1", clientId: "modality-1" });
  });
});

describe("the clientauth+oidc front (mutual TLS and a token)", () => {
  const B = "front-oidc-boundary";
  const post = async (opts: { cert: boolean; token?: string }) =>
    send(`${stack!.fronts["clientauth+oidc"].url}/studies`, {
      method: "POST",
      headers: {
        "content-type": multipartContentType(B),
        accept: "application/dicom+json",
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
      body: multipartBody(samples.map((s) => s.body), B),
      tls: { ca: pki.ca.certPem, ...(opts.cert ? { cert: pki.client.certPem, key: pki.client.keyPem } : {}) },
    });

  it("needs both: without a certificate nginx answers 400 whatever the token, without a token the app answers 401", async () => {
    const token = await writerToken();
    const noCert = await post({ cert: false, token });
    expect(noCert.status).toBe(400);
    expect(noCert.body).toContain("A client certificate is required");
    const noToken = await post({ cert: true });
    expect(noToken.status).toBe(401);
    expect(noToken.headers["www-authenticate"]).toBe('Bearer realm="stowrs"');
  });

  it("stores with both, and the app logs the certificate's DN and the token's client together", async () => {
    const res = await post({ cert: true, token: await writerToken() });
    expect(res.status, res.body).toBe(200);
    const line = () => stack!.service.logRecords("store request").find((l) => l.clientDn === pki.client.dn);
    await until(() => line() !== undefined, "the app's store line with the client DN");
    expect(line()).toMatchObject({ status: 200, sub: "modality-1", clientId: "modality-1" });
  });
});

describe("nginx's logs", () => {
  it("hold the requests made with tokens, but no token and no Authorization header", async () => {
    for (const front of Object.values(stack!.fronts)) {
      await until(() => front.accessLog().some((l) => l.uri === "/studies"), "access-log lines");
      const written = `${front.accessLogText()}\n${front.output()}`;
      expect(written).toContain('"uri":"/studies"');
      expect(written).not.toMatch(/authorization|bearer/i);
      for (const token of tokens) {
        expect(written).not.toContain(token);
        expect(written).not.toContain(token.split(".")[2]);
      }
    }
    expect(tokens.length).toBeGreaterThanOrEqual(3);
  });
});
