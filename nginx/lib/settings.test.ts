import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_REQUEST_BYTES, SettingsError, readSettings } from "./settings.js";

const base = { OUT_DIR: "/run/front", AUTH_MODE: "clientauth", CERT_MODE: "FROMS3", CERT_BUCKET: "certs" };

function problems(env: Record<string, string>): string[] {
  try {
    readSettings(env);
  } catch (error) {
    if (error instanceof SettingsError) return error.problems;
    throw error;
  }
  return [];
}

describe("readSettings", () => {
  it("fills in the task definition's defaults", () => {
    const s = readSettings(base);
    expect(s).toMatchObject({
      authMode: "clientauth",
      certMode: "FROMS3",
      certBucket: "certs",
      certPrefix: "",
      upstream: { host: "127.0.0.1", port: 8080 },
      listen: { host: "0.0.0.0", port: 443 },
      healthListen: { host: "0.0.0.0", port: 8081 },
      maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
      accessLog: "/dev/stdout",
      s3: { forcePathStyle: false },
    });
    expect(DEFAULT_MAX_REQUEST_BYTES).toBe(50 * 1024 ** 3);
  });

  it("normalises mode spelling, prefixes and IPv6 addresses", () => {
    const s = readSettings({ ...base, AUTH_MODE: "ClientAuth", CERT_MODE: "froms3", CERT_PREFIX: "/tls/prod", LISTEN: "[::]:8443" });
    expect(s.authMode).toBe("clientauth");
    expect(s.certMode).toBe("FROMS3");
    expect(s.certPrefix).toBe("tls/prod/");
    expect(s.listen).toEqual({ host: "[::]", port: 8443 });
  });

  it("reads the bearer-token modes: oidc alone, or with client certificates", () => {
    expect(readSettings({ ...base, AUTH_MODE: "OIDC" })).toMatchObject({ authMode: "oidc", clientCertificates: false, bearerTokens: true });
    expect(readSettings({ ...base, AUTH_MODE: "clientauth+oidc" })).toMatchObject({ authMode: "clientauth+oidc", clientCertificates: true, bearerTokens: true });
    expect(readSettings({ ...base, AUTH_MODE: "oidc", CERT_MODE: "ACM", CERT_BUCKET: "" })).toMatchObject({ authMode: "oidc", certMode: "ACM" });
    expect(readSettings(base)).toMatchObject({ clientCertificates: true, bearerTokens: false });
  });

  it("reads the S3 settings the app uses", () => {
    const s = readSettings({ ...base, S3_ENDPOINT: "http://127.0.0.1:4568", S3_FORCE_PATH_STYLE: "true", AWS_REGION: "eu-west-1" });
    expect(s.s3).toEqual({ endpoint: "http://127.0.0.1:4568", forcePathStyle: true, region: "eu-west-1" });
  });

  it("takes MAX_REQUEST_BYTES=0 as no limit", () => {
    expect(readSettings({ ...base, MAX_REQUEST_BYTES: "0" }).maxRequestBytes).toBe(0);
  });

  it("requires the modes rather than guessing them", () => {
    expect(problems({ OUT_DIR: "/x" })).toEqual([
      "AUTH_MODE is not set: use one of anonymous, clientauth, oidc, clientauth+oidc",
      "CERT_MODE is not set: use one of FROMS3, ACM",
    ]);
  });

  it.each([
    [{ OUT_DIR: "" }, "OUT_DIR is not set"],
    [{ OUT_DIR: "out" }, 'OUT_DIR="out" must be an absolute path'],
    [{ OUT_DIR: "/tmp/a b" }, "must be an absolute path without spaces"],
    [{ OUT_DIR: "/tmp/$x" }, "must be an absolute path without spaces"],
    [{ CERT_BUCKET: "" }, "CERT_MODE=FROMS3 needs CERT_BUCKET"],
    [{ CERT_MODE: "ACM" }, "AUTH_MODE=clientauth needs CERT_MODE=FROMS3"],
    [{ CERT_MODE: "ACM", AUTH_MODE: "clientauth+oidc" }, "AUTH_MODE=clientauth+oidc needs CERT_MODE=FROMS3"],
    [{ AUTH_MODE: "bearer" }, 'AUTH_MODE="bearer" is not one of anonymous, clientauth, oidc, clientauth+oidc'],
    [{ UPSTREAM: "app" }, 'UPSTREAM="app" is not host:port'],
    [{ LISTEN: "0.0.0.0:70000" }, 'LISTEN="0.0.0.0:70000" is not host:port'],
    [{ LISTEN: "0.0.0.0:8081" }, "LISTEN and HEALTH_LISTEN both use port 8081"],
    [{ MAX_REQUEST_BYTES: "50GiB" }, 'MAX_REQUEST_BYTES="50GiB" must be a whole number >= 0'],
    [{ UPSTREAM_TIMEOUT_SECONDS: "0" }, 'UPSTREAM_TIMEOUT_SECONDS="0" must be a whole number >= 1'],
    [{ S3_FORCE_PATH_STYLE: "maybe" }, 'S3_FORCE_PATH_STYLE="maybe" must be true or false'],
    [{ S3_ENDPOINT: "localhost:4568" }, "S3_ENDPOINT must be an http:// or https:// URL"],
    [{ ACCESS_LOG: "access.log" }, 'ACCESS_LOG="access.log" must be "off" or an absolute file path'],
  ])("rejects %o", (override, message) => {
    const found = problems({ ...base, ...override });
    expect(found.some((p) => p.includes(message)), found.join("\n")).toBe(true);
  });
});
