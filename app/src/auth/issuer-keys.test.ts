// When the verifier asks the issuer, and what it answers when it cannot: key rotation without a
// restart, the cooldown against floods of forged kids, the back-off after failures, outages at
// start-up and later, and a discovery document naming another issuer. A real OpenID provider
// (oidc-provider) on 127.0.0.1; its request log is what "fetches" means here.
import { afterEach, describe, expect, it } from "vitest";
import { accessClaims, signToken } from "../../test/support/forged-tokens.js";
import { makeSigningKey, startIssuer, type SigningKey, type TestIssuer } from "../../test/support/oidc-issuer.js";
import { loadConfig } from "../config.js";
import { createIssuerKeys, type IssuerKeys } from "./issuer-keys.js";
import { createTokenVerifier, type TokenVerifier, type Verdict } from "./token-verifier.js";

const AUDIENCE = "https://stow.test/dicomweb";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function issuerWith(keys: SigningKey[], signKid?: string): Promise<TestIssuer> {
  const issuer = await startIssuer({ audience: AUDIENCE, keys, signKid });
  cleanup.push(() => issuer.close());
  return issuer;
}

/** A verifier with the test knobs: 1 s cooldown, back-off and fetch timeout; refresh as given. */
function verifierFor(issuerUrl: string, env: Record<string, string> = {}): { keys: IssuerKeys; verifier: TokenVerifier; verify(token: string): Promise<Verdict> } {
  const settings = loadConfig({
    OIDC_ISSUER: issuerUrl,
    OIDC_AUDIENCE: AUDIENCE,
    OIDC_JWKS_COOLDOWN_SECONDS: "1",
    OIDC_FAILURE_BACKOFF_SECONDS: "1",
    OIDC_FETCH_TIMEOUT_SECONDS: "1",
    ...env,
  }).oidc!;
  const keys = createIssuerKeys(settings);
  cleanup.push(() => keys.close());
  const verifier = createTokenVerifier(settings, keys);
  return { keys, verifier, verify: (token) => verifier.verify(`Bearer ${token}`) };
}

const outcome = (v: Verdict) => (v.ok ? "ok" : `${v.status} ${v.reason}`);
const jwksFetches = (issuer: TestIssuer) => issuer.requests.filter((p) => p === "/jwks").length;

describe("key rotation", () => {
  it("accepts a new kid after the cooldown without a restart, and refuses the old one once the issuer stops publishing it", async () => {
    const a = await makeSigningKey("RS256", "key-a");
    const b = await makeSigningKey("ES256", "key-b");
    const issuer = await issuerWith([a]);
    const { verify } = verifierFor(issuer.issuer, { OIDC_JWKS_REFRESH_SECONDS: "3" });
    const tokenA = await issuer.token();
    expect(outcome(await verify(tokenA))).toBe("ok");

    // Published next to A and signing at once (IdPs publish ahead; this is the hard case).
    issuer.rotate({ keys: [b, a], signKid: "key-b" });
    const tokenB = await issuer.token();
    const fetchesBefore = jwksFetches(issuer);
    expect(outcome(await verify(tokenB)), "inside the cooldown the JWKS is not fetched again").toBe("401 unknown_key");
    expect(jwksFetches(issuer)).toBe(fetchesBefore);
    await sleep(1100);
    expect(outcome(await verify(tokenB))).toBe("ok");
    expect(jwksFetches(issuer)).toBe(fetchesBefore + 1);
    expect(outcome(await verify(tokenA)), "A is still published").toBe("ok");

    issuer.rotate({ keys: [b], signKid: "key-b" });
    // Cached until the next fetch; the background refresh (every 3 s here) makes it.
    const deadline = Date.now() + 8000;
    let last = outcome(await verify(tokenA));
    while (last === "ok" && Date.now() < deadline) {
      await sleep(250);
      last = outcome(await verify(tokenA));
    }
    expect(last).toBe("401 unknown_key");
    expect(outcome(await verify(tokenB))).toBe("ok");
  });
});

describe("floods and outages", () => {
  it("a flood of forged kids costs at most one JWKS fetch per cooldown, and concurrent misses share it", async () => {
    const real = await makeSigningKey("RS256", "real");
    const issuer = await issuerWith([real]);
    const { verify } = verifierFor(issuer.issuer);
    expect(outcome(await verify(await issuer.token()))).toBe("ok");
    const rogue = await makeSigningKey("RS256", "rogue");
    const before = jwksFetches(issuer);
    const started = Date.now();
    let forged = 0;
    while (Date.now() - started < 2500) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, i) => signToken({ ...rogue, kid: `forged-${forged + i}` }, accessClaims(issuer.issuer, AUDIENCE)).then(verify)),
      );
      forged += batch.length;
      for (const v of batch) expect(outcome(v)).toBe("401 unknown_key");
    }
    expect(forged).toBeGreaterThan(100);
    // 2.5 s with a 1 s cooldown: at most 3 fetches, whatever the number of forged kids.
    expect(jwksFetches(issuer) - before).toBeLessThanOrEqual(3);
  });

  it("keeps verifying known keys while the issuer is down; a new kid gets 503 with Retry-After, and no fetch during the back-off", async () => {
    const a = await makeSigningKey("RS256", "key-a");
    const c = await makeSigningKey("RS256", "key-c");
    const issuer = await issuerWith([a]);
    const { verify } = verifierFor(issuer.issuer);
    const tokenA = await issuer.token();
    expect(outcome(await verify(tokenA))).toBe("ok");
    await sleep(1100); // past the cooldown: a new kid would be fetched

    await issuer.setMode("http500");
    const tokenC = await signToken(c, accessClaims(issuer.issuer, AUDIENCE));
    const first = await verify(tokenC);
    expect(first).toMatchObject({ ok: false, status: 503, reason: "issuer_unavailable", retryAfterSeconds: 1 });
    const seen = issuer.requests.length;
    for (let i = 0; i < 50; i++) expect(outcome(await verify(tokenC))).toBe("503 issuer_unavailable");
    expect(issuer.requests.length, "no request to the issuer during the back-off").toBe(seen);
    expect(outcome(await verify(tokenA)), "a cached key does not need the issuer").toBe("ok");

    await issuer.setMode("refuse");
    await sleep(1100);
    expect(outcome(await verify(tokenC)), "connection refused").toBe("503 issuer_unavailable");

    // Back, now publishing C: after the back-off the next request fetches and passes.
    issuer.rotate({ keys: [c, a], signKid: "key-c" });
    await issuer.setMode("up");
    await sleep(1100);
    expect(outcome(await verify(tokenC))).toBe("ok");
  });

  it("answers 503 when the issuer does not answer at all (fetch timeout)", async () => {
    const a = await makeSigningKey("RS256", "key-a");
    const issuer = await issuerWith([a]);
    const token = await issuer.token();
    await issuer.setMode("hang");
    const { verify } = verifierFor(issuer.issuer);
    const started = Date.now();
    expect(outcome(await verify(token))).toBe("503 issuer_unavailable");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await issuer.setMode("up");
  });

  it("starts with the issuer down: refresh says so, requests get 503, and it recovers on its own", async () => {
    const a = await makeSigningKey("RS256", "key-a");
    const issuer = await issuerWith([a]);
    const token = await issuer.token();
    await issuer.setMode("refuse");
    const { keys, verify } = verifierFor(issuer.issuer);
    expect(await keys.refresh()).toBe(false);
    expect(outcome(await verify(token))).toBe("503 issuer_unavailable");
    await issuer.setMode("up");
    await sleep(1100);
    expect(outcome(await verify(token))).toBe("ok");
  });

  it("refuses to use a discovery document that names another issuer (503, every time, never a pass)", async () => {
    const a = await makeSigningKey("RS256", "key-a");
    const issuer = await issuerWith([a]);
    // Same server, other spelling: the document says http://127.0.0.1:PORT.
    const other = issuer.issuer.replace("127.0.0.1", "localhost");
    const { keys, verify } = verifierFor(other);
    expect(await keys.refresh()).toBe(false);
    const token = await signToken(a, accessClaims(other, AUDIENCE));
    expect(outcome(await verify(token))).toBe("503 issuer_unavailable");
    await sleep(1100);
    expect(outcome(await verify(token))).toBe("503 issuer_unavailable");
    expect(issuer.requests.filter((p) => p === "/jwks")).toEqual([]);
  });
});

describe("what the issuer's documents may be", () => {
  /** The provider's own answer for `path`, parsed. */
  const document = async (issuer: TestIssuer, path: string) => (await (await fetch(`${issuer.issuer}${path}`)).json()) as Record<string, unknown>;
  const DISCOVERY = "/.well-known/openid-configuration";

  it.each([
    ["with a Content-Length", false],
    ["streamed without one", true],
  ])("refuses a JWKS or a discovery document larger than 256 KiB (%s), and accepts one just under", async (_, chunked) => {
    const a = await makeSigningKey("RS256", "key-a");
    const issuer = await issuerWith([a]);
    const token = await issuer.token();
    const jwks = await document(issuer, "/jwks");
    const discovery = await document(issuer, DISCOVERY);
    const padded = (doc: Record<string, unknown>, bytes: number) => JSON.stringify({ ...doc, padding: "x".repeat(bytes) });

    issuer.serve("/jwks", padded(jwks, 257 * 1024), { chunked });
    const big = verifierFor(issuer.issuer);
    expect(await big.keys.refresh()).toBe(false);
    expect(outcome(await big.verify(token))).toBe("503 issuer_unavailable");

    issuer.serve("/jwks", padded(jwks, 250 * 1024), { chunked });
    expect(outcome(await verifierFor(issuer.issuer).verify(token))).toBe("ok");

    issuer.serve(DISCOVERY, padded(discovery, 300 * 1024), { chunked });
    const bigDiscovery = verifierFor(issuer.issuer);
    expect(outcome(await bigDiscovery.verify(token))).toBe("503 issuer_unavailable");
  });

  it("takes keys from another origin only when OIDC_JWKS_URI names it", async () => {
    const a = await makeSigningKey("RS256", "key-a");
    const issuer = await issuerWith([a]);
    const token = await issuer.token();
    // The same server under another host name: another origin as far as the issuer's URL goes.
    const elsewhere = `${issuer.issuer.replace("127.0.0.1", "localhost")}/jwks`;
    issuer.serve(DISCOVERY, JSON.stringify({ ...(await document(issuer, DISCOVERY)), jwks_uri: elsewhere }));

    const unnamed = verifierFor(issuer.issuer);
    expect(await unnamed.keys.refresh()).toBe(false);
    expect(outcome(await unnamed.verify(token))).toBe("503 issuer_unavailable");
    expect(outcome(await verifierFor(issuer.issuer, { OIDC_JWKS_URI: elsewhere }).verify(token))).toBe("ok");

    // Named, but the issuer's document says another place: not used either.
    issuer.serve(DISCOVERY, undefined);
    const mismatch = verifierFor(issuer.issuer, { OIDC_JWKS_URI: elsewhere });
    expect(outcome(await mismatch.verify(token))).toBe("503 issuer_unavailable");
  });
});
