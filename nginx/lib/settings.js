// Reads the front's environment into one validated settings object. Every
// problem is collected so a misconfigured task reports all of them at once.

export class SettingsError extends Error {
  /** @param {string[]} problems */
  constructor(problems) {
    super(problems.join("\n"));
    this.name = "SettingsError";
    this.problems = problems;
  }
}

/** Same default as the app's MAX_REQUEST_BYTES: 50 GiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 53_687_091_200;

// oidc: the app checks bearer tokens; the front passes Authorization through and asks for no
// client certificate. clientauth+oidc: both, a client certificate and a token.
const AUTH_MODES = ["anonymous", "clientauth", "oidc", "clientauth+oidc"];
const CERT_MODES = ["FROMS3", "ACM"];

/**
 * @typedef {{ host: string, port: number }} Address
 * @typedef {{
 *   outDir: string,
 *   authMode: "anonymous" | "clientauth" | "oidc" | "clientauth+oidc",
 *   clientCertificates: boolean,
 *   bearerTokens: boolean,
 *   certMode: "FROMS3" | "ACM",
 *   certBucket: string | undefined,
 *   certPrefix: string,
 *   upstream: Address,
 *   listen: Address,
 *   healthListen: Address,
 *   maxRequestBytes: number,
 *   upstreamTimeoutSeconds: number,
 *   nginxBin: string,
 *   accessLog: string,
 *   s3: { endpoint?: string, forcePathStyle: boolean, region?: string },
 * }} Settings
 */

/**
 * @param {Record<string, string | undefined>} env
 * @returns {Settings}
 */
export function readSettings(env) {
  /** @type {string[]} */
  const problems = [];
  const value = (name) => {
    const raw = env[name];
    return raw === undefined || raw.trim() === "" ? undefined : raw.trim();
  };

  const outDir = value("OUT_DIR");
  if (!outDir) problems.push("OUT_DIR is not set: give the directory to write nginx.conf, certificates and temp files into");
  else if (!outDir.startsWith("/") || /["'$;{}\\\s]/.test(outDir)) {
    // The path is written into nginx.conf, where quotes, $ and braces mean something.
    problems.push(`OUT_DIR="${outDir}" must be an absolute path without spaces, quotes, $, ; or braces`);
  }

  const authMode = oneOf("AUTH_MODE", value("AUTH_MODE"), AUTH_MODES, problems, (v) => v.toLowerCase());
  const certMode = oneOf("CERT_MODE", value("CERT_MODE"), CERT_MODES, problems, (v) => v.toUpperCase());

  const certBucket = value("CERT_BUCKET");
  if (certMode === "FROMS3" && !certBucket) {
    problems.push("CERT_MODE=FROMS3 needs CERT_BUCKET, the bucket holding certificate.crt, certificate.key and truststore.crt");
  }
  const clientCertificates = authMode === "clientauth" || authMode === "clientauth+oidc";
  if (clientCertificates && certMode === "ACM") {
    // The NLB ends the client's TLS session under ACM and opens its own to the
    // task without a client certificate, so nginx could never verify anyone.
    problems.push(
      `AUTH_MODE=${authMode} needs CERT_MODE=FROMS3: with CERT_MODE=ACM the load balancer ends TLS and no client certificate reaches nginx`,
    );
  }

  let certPrefix = value("CERT_PREFIX") ?? "";
  certPrefix = certPrefix.replace(/^\/+/, "");
  if (certPrefix && !certPrefix.endsWith("/")) certPrefix += "/";

  const upstream = address("UPSTREAM", value("UPSTREAM") ?? "127.0.0.1:8080", problems);
  const listen = address("LISTEN", value("LISTEN") ?? "0.0.0.0:443", problems);
  const healthListen = address("HEALTH_LISTEN", value("HEALTH_LISTEN") ?? "0.0.0.0:8081", problems);
  if (listen && healthListen && listen.port === healthListen.port && sameHost(listen.host, healthListen.host)) {
    problems.push(`LISTEN and HEALTH_LISTEN both use port ${listen.port}; give the health port its own`);
  }

  const maxRequestBytes = integer("MAX_REQUEST_BYTES", value("MAX_REQUEST_BYTES"), DEFAULT_MAX_REQUEST_BYTES, 0, problems);
  const upstreamTimeoutSeconds = integer("UPSTREAM_TIMEOUT_SECONDS", value("UPSTREAM_TIMEOUT_SECONDS"), 3600, 1, problems);

  const accessLog = value("ACCESS_LOG") ?? "/dev/stdout";
  if (accessLog !== "off" && (!accessLog.startsWith("/") || /["'$;{}\\\s]/.test(accessLog))) {
    problems.push(`ACCESS_LOG="${accessLog}" must be "off" or an absolute file path without spaces, quotes, $, ; or braces`);
  }

  const forcePathStyle = flag("S3_FORCE_PATH_STYLE", value("S3_FORCE_PATH_STYLE"), problems);
  const endpoint = value("S3_ENDPOINT");
  if (endpoint && !/^https?:\/\/[^/]/.test(endpoint)) {
    problems.push(`S3_ENDPOINT must be an http:// or https:// URL, got "${endpoint}"`);
  }

  if (problems.length > 0) throw new SettingsError(problems);
  return {
    outDir: /** @type {string} */ (outDir),
    authMode: /** @type {any} */ (authMode),
    clientCertificates,
    bearerTokens: authMode === "oidc" || authMode === "clientauth+oidc",
    certMode: /** @type {any} */ (certMode),
    certBucket,
    certPrefix,
    upstream: /** @type {Address} */ (upstream),
    listen: /** @type {Address} */ (listen),
    healthListen: /** @type {Address} */ (healthListen),
    maxRequestBytes: /** @type {number} */ (maxRequestBytes),
    upstreamTimeoutSeconds: /** @type {number} */ (upstreamTimeoutSeconds),
    nginxBin: value("NGINX_BIN") ?? "nginx",
    accessLog: /** @type {string} */ (accessLog),
    s3: { endpoint, forcePathStyle, region: value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") },
  };
}

function oneOf(name, raw, allowed, problems, normalize) {
  if (raw === undefined) {
    problems.push(`${name} is not set: use one of ${allowed.join(", ")}`);
    return undefined;
  }
  const normalized = normalize(raw);
  if (!allowed.includes(normalized)) {
    problems.push(`${name}="${raw}" is not one of ${allowed.join(", ")}`);
    return undefined;
  }
  return normalized;
}

/** Accepts host:port, [v6]:port. */
function address(name, raw, problems) {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(raw);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) {
    problems.push(`${name}="${raw}" is not host:port (for example 127.0.0.1:8080 or [::]:443)`);
    return undefined;
  }
  return { host: match[1] !== undefined ? `[${match[1]}]` : match[2], port };
}

function sameHost(a, b) {
  const wildcard = (h) => h === "0.0.0.0" || h === "[::]" || h === "*";
  return a === b || wildcard(a) || wildcard(b);
}

function integer(name, raw, fallback, min, problems) {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw)) || Number(raw) < min) {
    problems.push(`${name}="${raw}" must be a whole number >= ${min}`);
    return undefined;
  }
  return Number(raw);
}

function flag(name, raw, problems) {
  if (raw === undefined) return false;
  const lower = raw.toLowerCase();
  if (["1", "true", "yes"].includes(lower)) return true;
  if (["0", "false", "no"].includes(lower)) return false;
  problems.push(`${name}="${raw}" must be true or false`);
  return false;
}
