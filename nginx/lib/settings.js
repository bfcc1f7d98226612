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

// Names, defaults and ranges shared with the app (app/src/config-limits.ts, app/src/config.ts):
// the front must read the same variable the same way, so that one stack value means one thing.
/** Seconds over which the app averages a body's rate; nginx waits at most this long between two reads. */
export const BODY_RATE_WINDOW_SECONDS = { env: "BODY_RATE_WINDOW_SECONDS", default: 60, min: 1, max: 3600 };
/** How long a stop waits for requests in flight (the app's shutdown, nginx's worker_shutdown_timeout). */
export const SHUTDOWN_TIMEOUT_SECONDS = { env: "SHUTDOWN_TIMEOUT_SECONDS", default: 30, min: 0, max: 3600 };
/** Requests one client may have in progress at once through the front; 0 = no limit. */
export const MAX_CONNECTIONS_PER_CLIENT = { env: "MAX_CONNECTIONS_PER_CLIENT", default: 32, min: 0, max: 65535 };
/** Longest subject DN ALLOWED_CLIENT_SUBJECTS takes (a sanity bound; real ones are far shorter). */
export const MAX_SUBJECT_LENGTH = 1024;

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
 *   maxConnectionsPerClient: number,
 *   bodyRateWindowSeconds: number,
 *   shutdownTimeoutSeconds: number,
 *   crlRequired: boolean,
 *   allowedClientSubjects: string[],
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

  const bounded = (setting) => integer(setting.env, value(setting.env), setting.default, setting.min, problems, setting.max);
  const maxConnectionsPerClient = bounded(MAX_CONNECTIONS_PER_CLIENT);
  const bodyRateWindowSeconds = bounded(BODY_RATE_WINDOW_SECONDS);
  const shutdownTimeoutSeconds = bounded(SHUTDOWN_TIMEOUT_SECONDS);

  // Revocation and the subject allowlist only mean something when client certificates are checked.
  const crlRequired = flag("CRL_REQUIRED", value("CRL_REQUIRED"), problems);
  if (crlRequired && authMode && !clientCertificates) {
    problems.push(`CRL_REQUIRED=true needs AUTH_MODE=clientauth or clientauth+oidc: with AUTH_MODE=${authMode} no client certificate is checked`);
  }
  const allowedClientSubjects = subjects("ALLOWED_CLIENT_SUBJECTS", value("ALLOWED_CLIENT_SUBJECTS"), problems);
  if (allowedClientSubjects.length > 0 && authMode && !clientCertificates) {
    problems.push(
      `ALLOWED_CLIENT_SUBJECTS is set but AUTH_MODE=${authMode} checks no client certificate; use clientauth or clientauth+oidc, or unset it`,
    );
  }

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
    maxConnectionsPerClient: /** @type {number} */ (maxConnectionsPerClient),
    bodyRateWindowSeconds: /** @type {number} */ (bodyRateWindowSeconds),
    shutdownTimeoutSeconds: /** @type {number} */ (shutdownTimeoutSeconds),
    crlRequired,
    allowedClientSubjects,
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

function integer(name, raw, fallback, min, problems, max = Number.MAX_SAFE_INTEGER) {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw)) || Number(raw) < min || Number(raw) > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    problems.push(`${name}="${raw}" must be a whole number ${range}`);
    return undefined;
  }
  return Number(raw);
}

/**
 * A JSON array of subject DNs, exactly as nginx's $ssl_client_s_dn prints them (RFC 2253,
 * e.g. "CN=pacs1,O=Hospital"). Unset or [] means: any certificate the truststore accepts.
 * @returns {string[]}
 */
function subjects(name, raw, problems) {
  if (raw === undefined) return [];
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push(`${name} must be a JSON array of subject DNs, e.g. ["CN=pacs1,O=Hospital"]; it does not parse as JSON`);
    return [];
  }
  if (!Array.isArray(parsed)) {
    problems.push(`${name} must be a JSON array of subject DNs, e.g. ["CN=pacs1,O=Hospital"]; got ${typeof parsed}`);
    return [];
  }
  const found = [];
  parsed.forEach((dn, index) => {
    const where = `${name}[${index}]`;
    if (typeof dn !== "string" || dn.trim() === "") problems.push(`${where} must be a non-empty string`);
    // nginx prints control characters escaped, so a DN holding one could never match.
    else if (/[\u0000-\u001f\u007f]/.test(dn)) problems.push(`${where} contains a control character; no subject nginx prints does`);
    else if (dn.length > MAX_SUBJECT_LENGTH) problems.push(`${where} is longer than ${MAX_SUBJECT_LENGTH} characters`);
    else if (/^\s|(?<!\\)\s$/.test(dn)) problems.push(`${where}="${dn}" has leading or trailing spaces, which nginx never prints`);
    else if (!/^[A-Za-z0-9.]+=/.test(dn)) problems.push(`${where}="${dn}" is not an RFC 2253 DN such as "CN=pacs1,O=Hospital"`);
    else found.push(dn);
  });
  return [...new Set(found)];
}

function flag(name, raw, problems) {
  if (raw === undefined) return false;
  const lower = raw.toLowerCase();
  if (["1", "true", "yes"].includes(lower)) return true;
  if (["0", "false", "no"].includes(lower)) return false;
  problems.push(`${name}="${raw}" must be true or false`);
  return false;
}
