// Every verdict of the verifier, with tokens from a real OpenID provider (oidc-provider on
// 127.0.0.1) and forgeries made against it. The HTTP side (statuses on the wire, nothing stored)
// is in bearer-tokens.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessClaims, claimsOf, hmacWithPublicKey, signToken, tamperedPayload, unsignedToken } from "../../test/support/forged-tokens.js";
import { makeSigningKey, OTHER_RESOURCE, READER, startIssuer, type SigningKey, type TestIssuer } from "../../test/support/oidc-issuer.js";
import { loadConfig } from "../config.js";
import { createIssuerKeys, type IssuerKeys } from "./issuer-keys.js";
import type { OidcSettings } from "./settings.js";
import { createTokenVerifier, type TokenVerifier, type Verdict } from "./token-verifier.js";

const AUDIENCE = "https://stow.test/dicomweb";
let key: SigningKey;
let issuer: TestIssuer;
let second: TestIssuer;
let settings: OidcSettings;
let keys: IssuerKeys;
let verifier: TokenVerifier;

beforeAll(async () => {
  key = await makeSigningKey("RS256", "issuer-key-1");
  issuer = await startIssuer({ audience: AUDIENCE, keys: [key] });
  second = await startIssuer({ audience: AUDIENCE, keys: [await makeSigningKey("RS256", "second-issuer-key")] });
  settings = loadConfig({ OIDC_ISSUER: issuer.issuer, OIDC_AUDIENCE: AUDIENCE }).oidc!;
  keys = createIssuerKeys(settings);
  verifier = createTokenVerifier(settings, keys);
});

afterAll(async () => {
  keys?.close();
  await issuer?.close();
  await second?.close();
});

const bearer = (token: string) => verifier.verify(`Bearer ${token}`);
const refusal = (v: Verdict) => (v.ok ? { ok: true } : { status: v.status, reason: v.reason });
const forge = (extra: Record<string, unknown>, header = {}) => signToken(key, accessClaims(issuer.issuer, AUDIENCE, extra), header);
const now = () => Math.floor(Date.now() / 1000);

describe("accepted", () => {
  it("a client-credentials token from the provider, naming its subject and client", async () => {
    const token = await issuer.token();
    expect(claimsOf(token)).toMatchObject({ aud: AUDIENCE, scope: "dicomweb.write", client_id: "modality-1" });
    const v = await bearer(token);
    expect(v).toMatchObject({ ok: true, sub: "modality-1", clientId: "modality-1" });
  });

  it.each([
    ["exp 10 s ago (inside the 30 s skew)", { exp: now() - 10 }, {}],
    ["nbf in 10 s (inside the skew)", { nbf: now() + 10 }, {}],
    ["iat in 10 s (inside the skew)", { iat: now() + 10 }, {}],
    ["aud as an array holding the audience", { aud: ["https://elsewhere.test", AUDIENCE] }, {}],
    ["typ JWT (Keycloak, Entra ID)", {}, { typ: "JWT" }],
    ["typ application/at+jwt", {}, { typ: "application/at+jwt" }],
    ["no typ (Amazon Cognito)", {}, { typ: undefined }],
    ["no aud but client_id equal to the audience (Amazon Cognito)", { aud: undefined, client_id: AUDIENCE, scope: "dicomweb.write", token_use: "access" }, { typ: undefined }],
    ["scp as a string", { scope: undefined, scp: "dicomweb.write other" }, {}],
    ["scp as an array (Okta)", { scope: undefined, scp: ["dicomweb.write"] }, {}],
    ["roles (Entra ID application permissions)", { scope: undefined, roles: ["dicomweb.write"] }, { typ: "JWT" }],
    ["Keycloak realm_access.roles", { scope: "profile", realm_access: { roles: ["dicomweb.write"] } }, { typ: "JWT" }],
    ["Keycloak resource_access.<audience>.roles", { scope: "profile", resource_access: { [AUDIENCE]: { roles: ["dicomweb.write"] } } }, { typ: "JWT" }],
    ["azp as the client (Keycloak)", { client_id: undefined, azp: "kc-client" }, { typ: "JWT" }],
  ])("%s", async (_, extra, header) => {
    const v = await bearer(await forge(extra, header));
    expect(refusal(v)).toEqual({ ok: true });
  });
});

describe("refused", () => {
  it.each([
    ["no Authorization header", undefined, "missing"],
    ["an empty one", "", "missing"],
    ["another scheme (Basic)", "Basic bW9kYWxpdHk6c2VjcmV0", "not_bearer"],
    ["Bearer without a token", "Bearer", "malformed"],
    ["Bearer with something that is no JWT", "Bearer not-a-jwt", "malformed"],
    ["two segments", "Bearer eyJhbGciOiJSUzI1NiJ9.e30", "malformed"],
    ["a header that is not base64url JSON", "Bearer AAAA.e30.AAAA", "malformed"],
    ["two tokens", "Bearer a.b.c, Bearer d.e.f", "malformed"],
  ])("%s: 401 %s", async (_, header, reason) => {
    expect(refusal(await verifier.verify(header))).toEqual({ status: 401, reason });
  });

  it.each([
    ["expired (exp 120 s ago)", { exp: now() - 120 }, {}, "expired"],
    ["not yet valid (nbf in 120 s)", { nbf: now() + 120 }, {}, "not_yet_valid"],
    ["issued in the future (iat in 120 s)", { iat: now() + 120 }, {}, "issued_in_future"],
    ["no exp", { exp: undefined }, {}, "bad_claim"],
    ["another issuer", { iss: "https://evil.test" }, {}, "bad_issuer"],
    ["the issuer with a trailing slash", { iss: "ISSUER/" }, {}, "bad_issuer"],
    ["another audience", { aud: "https://other.test" }, {}, "bad_audience"],
    ["no aud and a client_id that is not the audience", { aud: undefined }, {}, "bad_audience"],
    ["typ dpop+jwt", {}, { typ: "dpop+jwt" }, "bad_type"],
    ["an ID token (Cognito token_use id)", { aud: undefined, client_id: AUDIENCE, token_use: "id" }, { typ: undefined }, "bad_type"],
    ["an ID token (Keycloak payload typ ID)", { typ: "ID" }, { typ: "JWT" }, "bad_type"],
    ["no kid", {}, { kid: undefined }, "malformed"],
    // ID tokens whatever their typ says: they carry what only an ID token carries.
    ["an ID token (nonce)", { nonce: "n-0S6_WzA2Mj" }, {}, "bad_type"],
    ["an ID token (at_hash)", { at_hash: "77QmUPtjPfzWtF2AnpK9RQ" }, { typ: "JWT" }, "bad_type"],
    ["an ID token (c_hash)", { c_hash: "LDktKdoQak3Pk0cnXxCltA" }, { typ: undefined }, "bad_type"],
  ])("%s: 401 %s", async (_, extra, header, reason) => {
    const claims = Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, v === "ISSUER/" ? `${issuer.issuer}/` : v]));
    expect(refusal(await bearer(await forge(claims, header)))).toEqual({ status: 401, reason });
  });

  it("a token the provider issued for another resource: 401 bad_audience", async () => {
    const token = await issuer.token({ resource: OTHER_RESOURCE });
    expect(claimsOf(token).aud).toBe(OTHER_RESOURCE);
    expect(refusal(await bearer(token))).toEqual({ status: 401, reason: "bad_audience" });
  });

  it("a valid token of a client not granted the scope: 403 insufficient_scope, naming the client", async () => {
    // The provider grants what was asked for and the resource server allows: only the read scope.
    const token = await issuer.token({ client: READER, scope: "dicomweb.read dicomweb.write" });
    expect(claimsOf(token).scope).toBe("dicomweb.read");
    const v = await bearer(token);
    expect(v).toMatchObject({ ok: false, status: 403, reason: "insufficient_scope", principal: { sub: "viewer-1", clientId: "viewer-1" } });
  });

  it.each([
    ["no scope at all", { scope: undefined }],
    ["the scope as a prefix of another word", { scope: "dicomweb.writer" }],
    ["Keycloak roles of another client", { scope: "profile", resource_access: { "other-client": { roles: ["dicomweb.write"] } } }],
  ])("%s: 403", async (_, extra) => {
    expect(refusal(await bearer(await forge(extra)))).toEqual({ status: 403, reason: "insufficient_scope" });
  });

  it("a tampered payload (scope added to a reader's token): 401 bad_signature", async () => {
    const token = await issuer.token({ client: READER });
    expect(refusal(await bearer(tamperedPayload(token, (c) => ({ ...c, scope: "dicomweb.write" }))))).toEqual({ status: 401, reason: "bad_signature" });
  });

  it("signed by a key nobody publishes: 401 unknown_key, or bad_signature when it claims the issuer's kid", async () => {
    const rogue = await makeSigningKey("RS256", "rogue");
    const claims = accessClaims(issuer.issuer, AUDIENCE);
    expect(refusal(await bearer(await signToken(rogue, claims)))).toEqual({ status: 401, reason: "unknown_key" });
    expect(refusal(await bearer(await signToken({ ...rogue, kid: key.kid }, claims)))).toEqual({ status: 401, reason: "bad_signature" });
  });

  it("alg none: 401 alg_not_allowed", async () => {
    expect(refusal(await bearer(unsignedToken(key.kid, accessClaims(issuer.issuer, AUDIENCE))))).toEqual({ status: 401, reason: "alg_not_allowed" });
  });

  it("HS256 keyed with the issuer's public key (PEM, and JWK): 401 alg_not_allowed", async () => {
    for (const form of ["pem", "jwk"] as const) {
      const token = await hmacWithPublicKey(key, accessClaims(issuer.issuer, AUDIENCE), form);
      expect(refusal(await bearer(token))).toEqual({ status: 401, reason: "alg_not_allowed" });
    }
  });

  it("an algorithm outside OIDC_ALGORITHMS, signed by the issuer's key: 401 alg_not_allowed", async () => {
    const only = createTokenVerifier({ ...settings, algorithms: ["ES256"] }, keys);
    expect(refusal(await only.verify(`Bearer ${await issuer.token()}`))).toEqual({ status: 401, reason: "alg_not_allowed" });
  });

  it("with OIDC_REQUIRE_AT_JWT=true, only RFC 9068 access tokens (typ at+jwt): the provider's, not JWT or none", async () => {
    const strict = createTokenVerifier(loadConfig({ OIDC_ISSUER: issuer.issuer, OIDC_AUDIENCE: AUDIENCE, OIDC_REQUIRE_AT_JWT: "true" }).oidc!, keys);
    const real = await issuer.token();
    expect(JSON.parse(Buffer.from(real.split(".")[0], "base64url").toString()).typ).toBe("at+jwt");
    expect(refusal(await strict.verify(`Bearer ${real}`))).toEqual({ ok: true });
    expect(refusal(await strict.verify(`Bearer ${await forge({}, { typ: "application/at+jwt" })}`))).toEqual({ ok: true });
    for (const typ of ["JWT", undefined, "at+JWT+x"]) {
      expect(refusal(await strict.verify(`Bearer ${await forge({}, { typ })}`)), `typ ${typ}`).toEqual({ status: 401, reason: "bad_type" });
    }
  });

  it("a token from a second, independent issuer: 401 (its kid is unknown here)", async () => {
    const token = await second.token();
    expect(refusal(await bearer(token))).toEqual({ status: 401, reason: "unknown_key" });
  });

  it("none of these ever made the verifier fetch more than discovery and one JWKS", () => {
    expect(issuer.requests.filter((p) => !p.startsWith("/token"))).toEqual(["/.well-known/openid-configuration", "/jwks"]);
  });
});
