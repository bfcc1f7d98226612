import { describe, expect, it } from "vitest";
import {
  BODY_RATE_WINDOW_SECONDS,
  DEFAULT_MAX_REQUEST_BYTES,
  MAX_CONNECTIONS_PER_CLIENT,
  SHUTDOWN_TIMEOUT_SECONDS,
  SettingsError,
  readSettings,
} from "./settings.js";

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
      maxConnectionsPerClient: 32,
      bodyRateWindowSeconds: 60,
      shutdownTimeoutSeconds: 30,
      crlRequired: false,
      allowedClientSubjects: [],
    });
    expect(DEFAULT_MAX_REQUEST_BYTES).toBe(50 * 1024 ** 3);
    // The app's defaults (config-limits.ts / config.ts), read under the same names.
    expect([MAX_CONNECTIONS_PER_CLIENT.default, BODY_RATE_WINDOW_SECONDS.default, SHUTDOWN_TIMEOUT_SECONDS.default]).toEqual([32, 60, 30]);
  });

  it("reads the slow-sender, stop and revocation settings", () => {
    const s = readSettings({
      ...base,
      MAX_CONNECTIONS_PER_CLIENT: "0",
      BODY_RATE_WINDOW_SECONDS: "5",
      SHUTDOWN_TIMEOUT_SECONDS: "90",
      CRL_REQUIRED: "true",
      ALLOWED_CLIENT_SUBJECTS: JSON.stringify(["CN=pacs1,O=Hospital", "CN=Smith\\, John,O=Hospital", "CN=pacs1,O=Hospital"]),
    });
    expect(s).toMatchObject({ maxConnectionsPerClient: 0, bodyRateWindowSeconds: 5, shutdownTimeoutSeconds: 90, crlRequired: true });
    expect(s.allowedClientSubjects).toEqual(["CN=pacs1,O=Hospital", "CN=Smith\\, John,O=Hospital"]);
    expect(readSettings({ ...base, ALLOWED_CLIENT_SUBJECTS: "[]" }).allowedClientSubjects).toEqual([]);
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
    [{ MAX_CONNECTIONS_PER_CLIENT: "-1" }, 'MAX_CONNECTIONS_PER_CLIENT="-1" must be a whole number between 0 and 65535'],
    [{ MAX_CONNECTIONS_PER_CLIENT: "70000" }, 'MAX_CONNECTIONS_PER_CLIENT="70000" must be a whole number between 0 and 65535'],
    [{ BODY_RATE_WINDOW_SECONDS: "0" }, 'BODY_RATE_WINDOW_SECONDS="0" must be a whole number between 1 and 3600'],
    [{ BODY_RATE_WINDOW_SECONDS: "1m" }, 'BODY_RATE_WINDOW_SECONDS="1m" must be a whole number between 1 and 3600'],
    [{ SHUTDOWN_TIMEOUT_SECONDS: "3601" }, 'SHUTDOWN_TIMEOUT_SECONDS="3601" must be a whole number between 0 and 3600'],
    [{ CRL_REQUIRED: "required" }, 'CRL_REQUIRED="required" must be true or false'],
    [{ CRL_REQUIRED: "true", AUTH_MODE: "anonymous", CERT_MODE: "ACM" }, "CRL_REQUIRED=true needs AUTH_MODE=clientauth or clientauth+oidc"],
    [{ ALLOWED_CLIENT_SUBJECTS: "CN=pacs1" }, "ALLOWED_CLIENT_SUBJECTS must be a JSON array of subject DNs"],
    [{ ALLOWED_CLIENT_SUBJECTS: '"CN=pacs1"' }, "ALLOWED_CLIENT_SUBJECTS must be a JSON array of subject DNs, e.g. [\"CN=pacs1,O=Hospital\"]; got string"],
    [{ ALLOWED_CLIENT_SUBJECTS: '["CN=a", 7]' }, "ALLOWED_CLIENT_SUBJECTS[1] must be a non-empty string"],
    [{ ALLOWED_CLIENT_SUBJECTS: JSON.stringify(["CN=a\nb"]) }, "ALLOWED_CLIENT_SUBJECTS[0] contains a control character"],
    [{ ALLOWED_CLIENT_SUBJECTS: '["pacs1"]' }, 'ALLOWED_CLIENT_SUBJECTS[0]="pacs1" is not an RFC 2253 DN'],
    [{ ALLOWED_CLIENT_SUBJECTS: '[" CN=a"]' }, "has leading or trailing spaces"],
    [{ ALLOWED_CLIENT_SUBJECTS: '["CN=a"]', AUTH_MODE: "oidc" }, "ALLOWED_CLIENT_SUBJECTS is set but AUTH_MODE=oidc checks no client certificate"],
  ])("rejects %o", (override, message) => {
    const found = problems({ ...base, ...override });
    expect(found.some((p) => p.includes(message)), found.join("\n")).toBe(true);
  });
});
