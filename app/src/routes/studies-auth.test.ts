// POST /studies with bearer tokens (OIDC_ISSUER set), end to end: the real service as a child
// process, a real S3-compatible server, a real OpenID provider (oidc-provider) on 127.0.0.1.
// Every refusal has its status and WWW-Authenticate on the wire and leaves the bucket as it was;
// the provider's token stores the samples; keys rotate and the issuer goes down without a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessClaims, hmacWithPublicKey, signToken, tamperedPayload, unsignedToken } from "../../test/support/forged-tokens.js";
import { buildInstance, newInstanceUids } from "../../test/support/dicom.js";
import { expectedKey } from "../../test/support/key-layout.js";
import { metric } from "../../test/support/metrics.js";
import { multipartBody, multipartContentType } from "../../test/support/multipart.js";
import { makeSigningKey, OTHER_RESOURCE, READER, startIssuer, type SigningKey, type TestIssuer } from "../../test/support/oidc-issuer.js";
import { rawExchange } from "../../test/support/raw-http.js";
import { getObject, listKeys } from "../../test/support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { loadSamples } from "../../test/support/samples.js";
import { startServiceProcess, type ServiceHandle } from "../../test/support/service.js";
import type { SentPart, StoredExpectation } from "../../test/support/stow-check.js";
import { postStow, type StowReply } from "../../test/support/stow-client.js";

const AUDIENCE = "https://stow.test/dicomweb";
const B = "auth-test-boundary";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let s3: S3rverHandle;
let key: SigningKey;
let published: SigningKey[] = [];
let issuer: TestIssuer;
let second: TestIssuer;
let service: ServiceHandle;
let samples: SentPart[];
/** Every token sent, so the test can check none of them reached a log. */
const sentTokens: string[] = [];

beforeAll(async () => {
  samples = loadSamples();
  s3 = await startS3rver();
  key = await makeSigningKey("RS256", "issuer-key-1");
  issuer = await startIssuer({ audience: AUDIENCE, keys: [key] });
  published = [key];
  // An independent provider whose key has the same kid string as ours.
  second = await startIssuer({ audience: AUDIENCE, keys: [await makeSigningKey("RS256", "issuer-key-1")] });
  service = await startServiceProcess({
    ...s3.env,
    OIDC_ISSUER: issuer.issuer,
    OIDC_AUDIENCE: AUDIENCE,
    METRICS_PORT: "0",
    // One slot: the test of the guard's place before admission fills it with one slow sender.
    MAX_INSTANCES_IN_FLIGHT: "1",
    // Test knobs (each capped at 30 s): rotation and recovery in seconds, not minutes.
    OIDC_JWKS_COOLDOWN_SECONDS: "1",
    OIDC_FAILURE_BACKOFF_SECONDS: "1",
    OIDC_FETCH_TIMEOUT_SECONDS: "1",
    OIDC_JWKS_REFRESH_SECONDS: "2",
  });
});

afterAll(async () => {
  await service?.stop();
  await issuer?.close();
  await second?.close();
  await s3?.stop();
});

const samplesBody = () => multipartBody(samples.map((s) => s.body), B);
const storedKeys = async () => (await listKeys(s3.client, s3.bucket)).filter((k) => !k.includes(".stowrs/"));

function post(authorization: string | undefined, body: Buffer = samplesBody(), path = "/studies"): Promise<StowReply> {
  const headers: Record<string, string> = { Accept: "application/dicom+json", "X-Request-Id": `auth-test-${Math.random().toString(36).slice(2)}` };
  if (authorization !== undefined) {
    headers.Authorization = authorization;
    sentTokens.push(authorization.replace(/^Bearer +/i, ""));
  }
  return postStow(service.url, body, B, { path, headers });
}
const withToken = (token: string, body?: Buffer, path?: string) => post(`Bearer ${token}`, body, path);
const forge = (extra: Record<string, unknown> = {}, header = {}) => signToken(key, accessClaims(issuer.issuer, AUDIENCE, extra), header);
const now = () => Math.floor(Date.now() / 1000);
const invalidToken = (description: string) => `Bearer realm="stowrs", error="invalid_token", error_description="${description}"`;

const REFUSALS: Array<[string, () => Promise<string | undefined>, number, string, string]> = [
  ["no Authorization", async () => undefined, 401, "missing", 'Bearer realm="stowrs"'],
  ["Basic credentials", async () => "Basic bW9kYWxpdHktMTpzZWNyZXQ=", 401, "not_bearer", 'Bearer realm="stowrs"'],
  ["a malformed token", async () => "Bearer not.a-jwt", 401, "malformed", invalidToken("the token is not a signed JWT")],
  ["an expired token", async () => `Bearer ${await forge({ exp: now() - 120 })}`, 401, "expired", invalidToken("the token has expired")],
  ["a token not yet valid", async () => `Bearer ${await forge({ nbf: now() + 120 })}`, 401, "not_yet_valid", invalidToken("the token is not valid yet")],
  ["a token issued in the future", async () => `Bearer ${await forge({ iat: now() + 120 })}`, 401, "issued_in_future", invalidToken("the token was issued in the future")],
  ["the wrong issuer", async () => `Bearer ${await forge({ iss: "https://idp.evil.test" })}`, 401, "bad_issuer", invalidToken("the token is from another issuer")],
  ["the wrong audience", async () => `Bearer ${await issuer.token({ resource: OTHER_RESOURCE })}`, 401, "bad_audience", invalidToken("the token is for another audience")],
  [
    "a tampered payload",
    async () => `Bearer ${tamperedPayload(await issuer.token({ client: READER, scope: "dicomweb.read" }), (c) => ({ ...c, scope: "dicomweb.write" }))}`,
    401,
    "bad_signature",
    invalidToken("the token's signature is invalid"),
  ],
  [
    "a signature by an unknown key",
    async () => `Bearer ${await signToken(await makeSigningKey("RS256", "rogue"), accessClaims(issuer.issuer, AUDIENCE))}`,
    401,
    "unknown_key",
    invalidToken("the token is signed with a key the issuer does not publish"),
  ],
  ["alg none", async () => `Bearer ${unsignedToken(key.kid, accessClaims(issuer.issuer, AUDIENCE))}`, 401, "alg_not_allowed", invalidToken("the token's signing algorithm is not accepted")],
  [
    "HS256 signed with the issuer's public key",
    async () => `Bearer ${await hmacWithPublicKey(key, accessClaims(issuer.issuer, AUDIENCE))}`,
    401,
    "alg_not_allowed",
    invalidToken("the token's signing algorithm is not accepted"),
  ],
  [
    "an ID token (signed by the issuer, but carrying nonce and at_hash)",
    async () => `Bearer ${await forge({ nonce: "n-0S6_WzA2Mj", at_hash: "77QmUPtjPfzWtF2AnpK9RQ" })}`,
    401,
    "bad_type",
    invalidToken("the token is an ID token, not an access token"),
  ],
  ["a token from a second issuer (same kid)", async () => `Bearer ${await second.token()}`, 401, "bad_signature", invalidToken("the token's signature is invalid")],
  [
    "a valid token without the scope",
    async () => `Bearer ${await issuer.token({ client: READER, scope: "dicomweb.read" })}`,
    403,
    "insufficient_scope",
    'Bearer realm="stowrs", error="insufficient_scope", error_description="the token does not grant dicomweb.write", scope="dicomweb.write"',
  ],
];

describe("POST /studies with bearer tokens required", () => {
  it.each(REFUSALS)("refuses %s: %i, reason %s, WWW-Authenticate as RFC 6750 says", async (_, authorization, status, reason, challenge) => {
    const before = await metricsValue("stowrs_auth_refusals_total", { status: String(status), reason });
    const res = await post(await authorization());
    expect(res.status, res.text).toBe(status);
    expect(res.headers.get("www-authenticate")).toBe(challenge);
    expect(res.json).toMatchObject({ status, error: expect.any(String) });
    expect(res.headers.get("x-request-id")).toMatch(/^auth-test-/);
    expect(await metricsValue("stowrs_auth_refusals_total", { status: String(status), reason })).toBe(before + 1);
  });

  it("stored nothing for any of those refusals", async () => {
    expect(await storedKeys()).toEqual([]);
  });

  it("stores the samples with a client-credentials token from the provider, and logs whose token it was", async () => {
    const res = await withToken(await issuer.token());
    expect(res.status, res.text).toBe(200);
    expect(await storedKeys()).toEqual(samples.map((s) => expectedKey(s.expect as StoredExpectation)).sort());
    for (const s of samples) expect((await getObject(s3.client, s3.bucket, expectedKey(s.expect as StoredExpectation)))?.equals(s.body)).toBe(true);
    const line = logLines().find((l) => l.msg === "store request" && l.requestId === res.headers.get("x-request-id"));
    expect(line).toMatchObject({ status: 200, sub: "modality-1", clientId: "modality-1" });
  });

  it("refuses before reading the body: a slow sender gets its 401 while it is still sending", async () => {
    const body = samplesBody();
    const head =
      `POST /studies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${multipartContentType(B)}\r\n` +
      `Content-Length: ${body.length}\r\nAuthorization: Bearer not.a-jwt\r\n\r\n`;
    const started = Date.now();
    const raw = await rawExchange(service.port, head, { pieces: [body.subarray(0, 100), 3000, body.subarray(100)], timeoutMs: 1500 });
    expect(raw.statuses).toEqual([401]);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("keeps the connection like the capacity 503: a client that sends a large body before reading gets the 401", async () => {
    const big = multipartBody([buildInstance({ ...newInstanceUids(), pixels: 8 * 1024 * 1024 })], B);
    const head = `POST /studies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${multipartContentType(B)}\r\nContent-Length: ${big.length}\r\n\r\n`;
    const raw = await rawExchange(service.port, Buffer.concat([Buffer.from(head), big]), { timeoutMs: 5000 });
    expect(raw.statuses).toEqual([401]);
    expect(raw.text).toMatch(/\r\nwww-authenticate: Bearer realm="stowrs"\r\n/i);
    expect(await storedKeys()).toHaveLength(samples.length);
  });

  it("guards every path but /health and /ready; /metrics is 404 here and served on METRICS_PORT", async () => {
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
    expect((await fetch(`${service.url}/ready`)).status).toBe(200);
    const metricsHere = await fetch(`${service.url}/metrics`);
    expect(metricsHere.status).toBe(404);
    expect((await fetch(`${service.url}/nope`)).status).toBe(401);
    expect((await fetch(`${service.url}/nope`, { headers: { authorization: `Bearer ${await issuer.token()}` } })).status).toBe(404);
    expect(service.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const text = await (await fetch(`${service.metricsUrl}/metrics`)).text();
    expect(metric(text, "stowrs_requests_total", { status: "200" })).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${service.metricsUrl}/studies`, { method: "POST" })).status).toBe(404);
  });

  it("asks for the token before the method: OPTIONS and other methods on /studies get 401 without one, 204 and 405 with one", async () => {
    const token = await issuer.token();
    sentTokens.push(token);
    for (const path of ["/studies", "/studies/1.2.3"]) {
      for (const method of ["OPTIONS", "PUT", "DELETE", "GET"]) {
        const refused = await fetch(`${service.url}${path}`, { method });
        expect(refused.status, `${method} ${path} without a token`).toBe(401);
        expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="stowrs"');
        expect(refused.headers.get("allow")).toBeNull();
        const answered = await fetch(`${service.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
        expect(answered.status, `${method} ${path} with a token`).toBe(method === "OPTIONS" ? 204 : 405);
        expect(answered.headers.get("allow")).toBe("POST, OPTIONS");
      }
    }
  });

  it("checks the token before admission: at capacity, a request without a token gets 401, not 503, and takes no slot", async () => {
    const token = await issuer.token();
    sentTokens.push(token);
    // A sender with a valid token takes the only slot (MAX_INSTANCES_IN_FLIGHT=1) and pauses mid-body.
    const held = newInstanceUids();
    const body = multipartBody([buildInstance({ ...held, pixels: 200_000 })], B);
    const head =
      `POST /studies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${multipartContentType(B)}\r\nContent-Length: ${body.length}\r\n` +
      `Authorization: Bearer ${token}\r\nConnection: close\r\n\r\n`;
    const holder = rawExchange(service.port, head, { pieces: [body.subarray(0, 40_000), 3000, body.subarray(40_000)], timeoutMs: 10_000 });
    // It holds the slot once its instance's header has arrived and its upload has started.
    await expect.poll(() => metricsValue("stowrs_uploads_in_flight", {}), { interval: 50 }).toBe(1);
    const small = () => multipartBody([buildInstance(newInstanceUids())], B);
    expect((await withToken(token, small())).status, "the slot is taken").toBe(503);
    const ids = newInstanceUids();
    const refused = await post(undefined, multipartBody([buildInstance(ids)], B));
    expect(refused.status).toBe(401);
    expect(refused.headers.get("retry-after")).toBeNull();
    expect((await fetch(`${service.url}/studies`, { method: "PUT" })).status).toBe(401);
    expect(await getObject(s3.client, s3.bucket, expectedKey(ids))).toBeUndefined();
    // The slow sender still finishes, and its instance is stored.
    expect((await holder).statuses).toEqual([200]);
    expect(await getObject(s3.client, s3.bucket, expectedKey(held))).toBeDefined();
  });

  it("picks up a new signing key without a restart, and refuses the old one once the issuer stops publishing it", async () => {
    const next = await makeSigningKey("ES256", "issuer-key-2");
    const oldToken = await issuer.token();
    publish([next, key], next.kid);
    const newToken = await issuer.token();
    const ids = newInstanceUids();
    const statuses: number[] = [];
    const until = async (token: string, want: number) => {
      const deadline = Date.now() + 6000;
      for (;;) {
        const res = await withToken(token, multipartBody([buildInstance(ids)], B));
        statuses.push(res.status);
        if (res.status === want || Date.now() > deadline) return res.status;
        await sleep(300);
      }
    };
    expect(await until(newToken, 200)).toBe(200);
    publish([next], next.kid);
    expect(await until(oldToken, 401)).toBe(401);
    // Meanwhile nothing but "not yet" or "yes": never a 5xx.
    expect(statuses.every((s) => s === 200 || s === 401)).toBe(true);
    expect((await withToken(newToken, multipartBody([buildInstance(newInstanceUids())], B))).status).toBe(200);
  });

  it("answers 503 with Retry-After when the issuer is down and a new key is needed, keeps accepting known keys, and recovers", async () => {
    const known = await issuer.token();
    const upcoming = await makeSigningKey("RS256", "issuer-key-3");
    await issuer.setMode("refuse");
    await sleep(1100); // past the cooldown, so the unknown kid makes the service ask
    const ids = newInstanceUids();
    const unknownKid = await signToken(upcoming, accessClaims(issuer.issuer, AUDIENCE));
    const down = await withToken(unknownKid, multipartBody([buildInstance(ids)], B));
    expect(down.status, down.text).toBe(503);
    expect(down.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect(down.headers.get("www-authenticate")).toBeNull();
    expect(await getObject(s3.client, s3.bucket, expectedKey(ids))).toBeUndefined();
    expect((await withToken(known, multipartBody([buildInstance(newInstanceUids())], B))).status, "a cached key needs no issuer").toBe(200);

    publish([upcoming, ...published], upcoming.kid);
    await issuer.setMode("up");
    await sleep(1100);
    const back = await withToken(unknownKid, multipartBody([buildInstance(ids)], B));
    expect(back.status, back.text).toBe(200);
    expect(await getObject(s3.client, s3.bucket, expectedKey(ids))).toBeDefined();
  });

  it("audits an overwrite with the token's subject and client id", async () => {
    const ids = newInstanceUids();
    expect((await withToken(await issuer.token(), multipartBody([buildInstance({ ...ids, pixels: 1_000 })], B))).status).toBe(200);
    const res = await withToken(await issuer.token(), multipartBody([buildInstance({ ...ids, pixels: 1_001 })], B));
    expect(res.status).toBe(200);
    await expect.poll(() => logLines().filter((l) => l.msg === "instance overwritten: the key held different bytes" && l.key === expectedKey(ids)).length).toBe(1);
    const line = logLines().find((l) => l.msg === "instance overwritten: the key held different bytes" && l.key === expectedKey(ids));
    expect(line).toMatchObject({ level: "warn", requestId: res.headers.get("x-request-id"), sender: { sub: "modality-1", clientId: "modality-1" } });
  });

  it("logs refusals with their reason and never a token", async () => {
    const refused = logLines().filter((l) => l.msg === "request refused: bearer token");
    expect(new Set(refused.map((l) => l.reason))).toEqual(new Set([...REFUSALS.map((r) => r[3]), "unknown_key", "issuer_unavailable"]));
    const scopeless = refused.find((l) => l.reason === "insufficient_scope");
    expect(scopeless).toMatchObject({ status: 403, sub: "viewer-1", clientId: "viewer-1" });
    const everything = service.logs().join("\n") + service.stderr();
    for (const token of sentTokens) {
      const secretPart = token.split(".").at(-1) || token;
      if (secretPart.length >= 16) expect(everything).not.toContain(secretPart);
      expect(everything).not.toContain(token);
    }
  });
});

const logLines = () => service.logRecords();

async function metricsValue(name: string, labels: Record<string, string>): Promise<number> {
  return metric(await (await fetch(`${service.metricsUrl}/metrics`)).text(), name, labels) ?? 0;
}

/** The issuer's JWKS from now on, signing with `signKid`; same issuer URL, nothing restarted. */
function publish(keys: SigningKey[], signKid: string) {
  published = keys;
  issuer.rotate({ keys, signKid });
}
