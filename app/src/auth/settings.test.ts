// OIDC_* and METRICS_* through loadConfig: defaults, and every refusal naming its variable.
import { describe, expect, it } from "vitest";
import { configProblems } from "../../test/support/config-problems.js";
import { DEFAULT_METRICS_PORT, loadConfig } from "../config.js";

const ON = { OIDC_ISSUER: "https://idp.hospital.test/realms/imaging", OIDC_AUDIENCE: "stowrs" };

describe("OIDC settings", () => {
  it("are off without OIDC_ISSUER, and /metrics stays on the main port", () => {
    expect(loadConfig({})).toMatchObject({ oidc: undefined, metrics: undefined });
  });

  it("have defaults once OIDC_ISSUER and OIDC_AUDIENCE are set, and move /metrics to loopback", () => {
    const c = loadConfig(ON);
    expect(c.oidc).toEqual({
      issuer: "https://idp.hospital.test/realms/imaging",
      audience: "stowrs",
      requiredScope: "dicomweb.write",
      algorithms: ["RS256", "PS256", "ES256"],
      clockSkewSeconds: 30,
      requireAtJwt: false,
      jwksUri: undefined,
      jwksCooldownMs: 30_000,
      jwksRefreshMs: 600_000,
      fetchTimeoutMs: 5_000,
      failureBackoffMs: 5_000,
    });
    expect(c.metrics).toEqual({ port: DEFAULT_METRICS_PORT, host: "127.0.0.1" });
  });

  it("keep the issuer exactly as written (iss is compared byte for byte)", () => {
    expect(loadConfig({ ...ON, OIDC_ISSUER: "https://login.microsoftonline.com/tenant/v2.0/" }).oidc?.issuer).toBe("https://login.microsoftonline.com/tenant/v2.0/");
  });

  it("read the rest", () => {
    const c = loadConfig({
      ...ON,
      OIDC_REQUIRED_SCOPE: "https://stow.hospital.test/dicomweb.write",
      OIDC_ALGORITHMS: "es256, rs256,ES256",
      OIDC_CLOCK_SKEW_SECONDS: "5",
      OIDC_JWKS_COOLDOWN_SECONDS: "1",
      OIDC_JWKS_REFRESH_SECONDS: "60",
      OIDC_FETCH_TIMEOUT_SECONDS: "2",
      OIDC_FAILURE_BACKOFF_SECONDS: "3",
      OIDC_REQUIRE_AT_JWT: "TRUE",
      OIDC_JWKS_URI: "https://keys.hospital.test/imaging/jwks.json",
      METRICS_PORT: "0",
      METRICS_HOST: "::1",
    });
    expect(c.oidc).toMatchObject({
      requiredScope: "https://stow.hospital.test/dicomweb.write",
      algorithms: ["ES256", "RS256"],
      clockSkewSeconds: 5,
      jwksCooldownMs: 1000,
      jwksRefreshMs: 60_000,
      fetchTimeoutMs: 2000,
      failureBackoffMs: 3000,
      requireAtJwt: true,
      jwksUri: "https://keys.hospital.test/imaging/jwks.json",
    });
    expect(c.metrics).toEqual({ port: 0, host: "::1" });
  });

  it.each(["http://127.0.0.1:8443", "http://127.9.0.1", "http://localhost:1234/realms/x", "http://[::1]:80"])("allow http:// for the loopback issuer %s", (issuer) => {
    expect(loadConfig({ ...ON, OIDC_ISSUER: issuer }).oidc?.issuer).toBe(issuer);
  });

  it("allow an http:// OIDC_JWKS_URI only on loopback, for a loopback issuer", () => {
    expect(loadConfig({ ...ON, OIDC_ISSUER: "http://127.0.0.1:8443", OIDC_JWKS_URI: "http://localhost:8443/keys" }).oidc?.jwksUri).toBe("http://localhost:8443/keys");
  });

  it("METRICS_PORT alone moves /metrics without bearer tokens", () => {
    expect(loadConfig({ METRICS_PORT: "9100" })).toMatchObject({ oidc: undefined, metrics: { port: 9100, host: "127.0.0.1" } });
  });

  it.each([
    [{ OIDC_ISSUER: "http://idp.hospital.test/realms/x" }, /^OIDC_ISSUER: .*must be an https:\/\/ URL \(http:\/\/ only on a loopback address/],
    [{ OIDC_ISSUER: "http://10.0.0.5" }, /^OIDC_ISSUER: .*https/],
    [{ OIDC_ISSUER: "idp.hospital.test" }, /^OIDC_ISSUER: "idp.hospital.test" is not a URL/],
    [{ OIDC_ISSUER: "https://idp.test/realms/x?tenant=1" }, /^OIDC_ISSUER: .*query, a fragment or credentials/],
    [{ OIDC_ISSUER: "https://user:pw@idp.test" }, /^OIDC_ISSUER: .*credentials/],
    [{ OIDC_AUDIENCE: "" }, /^OIDC_AUDIENCE: required with OIDC_ISSUER/],
    [{ OIDC_AUDIENCE: "two words" }, /^OIDC_AUDIENCE: /],
    [{ OIDC_REQUIRED_SCOPE: "dicomweb.write dicomweb.read" }, /^OIDC_REQUIRED_SCOPE: .*not a single OAuth scope/],
    [{ OIDC_REQUIRED_SCOPE: 'say"hi' }, /^OIDC_REQUIRED_SCOPE: /],
    [{ OIDC_ALGORITHMS: "RS256,HS256" }, /^OIDC_ALGORITHMS: HS256 is refused: HMAC/],
    [{ OIDC_ALGORITHMS: "none" }, /^OIDC_ALGORITHMS: "none" is refused/],
    [{ OIDC_ALGORITHMS: "RS1" }, /^OIDC_ALGORITHMS: RS1 is not a supported algorithm/],
    [{ OIDC_ALGORITHMS: " , " }, /^OIDC_ALGORITHMS: lists no algorithm/],
    [{ OIDC_CLOCK_SKEW_SECONDS: "301" }, /^OIDC_CLOCK_SKEW_SECONDS: must be between 0 and 300/],
    [{ OIDC_JWKS_COOLDOWN_SECONDS: "60" }, /^OIDC_JWKS_COOLDOWN_SECONDS: must be between 1 and 30/],
    [{ OIDC_FAILURE_BACKOFF_SECONDS: "31" }, /^OIDC_FAILURE_BACKOFF_SECONDS: must be between 1 and 30/],
    [{ OIDC_REQUIRED_SCOPES: "dicomweb.write" }, /^OIDC_REQUIRED_SCOPES: not a setting of this service/],
    [{ OIDC_REQUIRE_AT_JWT: "sometimes" }, /^OIDC_REQUIRE_AT_JWT: expected true or false/],
    [{ OIDC_JWKS_URI: "keys.hospital.test/jwks" }, /^OIDC_JWKS_URI: .* is not a URL/],
    [{ OIDC_JWKS_URI: "http://keys.hospital.test/jwks" }, /^OIDC_JWKS_URI: .*must be an https:\/\/ URL/],
    // Plain http only for a loopback issuer: an https issuer's keys are not fetched in the clear, not even from loopback.
    [{ OIDC_JWKS_URI: "http://127.0.0.1:9000/jwks" }, /^OIDC_JWKS_URI: .*with an issuer on one too/],
    [{ OIDC_JWKS_URI: "https://user:pw@keys.hospital.test/jwks" }, /^OIDC_JWKS_URI: .*credentials/],
    [{ METRICS_PORT: "8080" }, /^METRICS_PORT: 8080 is PORT too/],
    [{ METRICS_PORT: "x" }, /^METRICS_PORT: expected a whole number/],
  ])("refuse %o naming the variable", (env, pattern) => {
    const problems = configProblems({ ...ON, ...(env as Record<string, string>) });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(pattern);
  });

  it("refuse OIDC settings without OIDC_ISSUER (they would silently do nothing)", () => {
    expect(configProblems({ OIDC_AUDIENCE: "stowrs", OIDC_REQUIRED_SCOPE: "x" })).toEqual([
      "OIDC_AUDIENCE: set, but OIDC_ISSUER is not: bearer tokens are checked only when OIDC_ISSUER is set",
      "OIDC_REQUIRED_SCOPE: set, but OIDC_ISSUER is not: bearer tokens are checked only when OIDC_ISSUER is set",
    ]);
    expect(configProblems({ METRICS_HOST: "0.0.0.0" })[0]).toMatch(/^METRICS_HOST: set, but \/metrics is on the main port/);
  });

  it("report every problem at once, with the others'", () => {
    expect(configProblems({ PORT: "x", OIDC_ISSUER: "ftp://idp", OIDC_ALGORITHMS: "HS512" })).toHaveLength(4);
  });
});
