// Names, defaults and ranges of the settings a deployment tunes. The service's loadConfig
// checks them, and the Pulumi program (stacks/config.ts) imports this same file, so a
// stack cannot write a value the service would refuse, nor assume a different default.

export interface IntegerSetting {
  /** Environment variable the service reads. */
  env: string;
  default: number;
  min: number;
  max: number;
}

/** S3 multipart part size; S3 refuses parts under 5 MiB (except the last) and over 5 GiB. */
export const UPLOAD_PART_SIZE_MIB: IntegerSetting = { env: "UPLOAD_PART_SIZE_MIB", default: 5, min: 5, max: 5 * 1024 };
/** Parts of one instance in flight; 2 keeps a 1 GiB upload near its measured RSS (README, Benchmarks). */
export const UPLOAD_PART_CONCURRENCY: IntegerSetting = { env: "UPLOAD_PART_CONCURRENCY", default: 2, min: 1, max: 64 };
export const UPLOAD_INSTANCE_CONCURRENCY: IntegerSetting = { env: "UPLOAD_INSTANCE_CONCURRENCY", default: 4, min: 1, max: 256 };
export const MAX_INSTANCES_IN_FLIGHT: IntegerSetting = { env: "MAX_INSTANCES_IN_FLIGHT", default: 64, min: 1, max: 100_000 };

export const RESPONSE_DELAY_MAX_SECONDS = 600;

// Slow request bodies. Both containers read the window: the app cuts a body that arrives slower
// than the minimum rate, averaged over the window, with 408 (stow/body-rate.ts); the nginx front
// waits at most the window between two reads of a client (client_body_timeout), so it never
// gives up later than the app would.
/** Least body bytes per second a client must deliver while the service waits for it; 0 turns the check off. */
export const BODY_MIN_BYTES_PER_SECOND: IntegerSetting = { env: "BODY_MIN_BYTES_PER_SECOND", default: 1024, min: 0, max: 1024 * 1024 * 1024 };
/** Seconds over which the body rate is averaged; a body that stalls is cut off at most this long after its last sufficient stretch. */
export const BODY_RATE_WINDOW_SECONDS: IntegerSetting = { env: "BODY_RATE_WINDOW_SECONDS", default: 60, min: 1, max: 3600 };

/**
 * Data one instance upload can hold at once, in MiB: UPLOAD_PART_CONCURRENCY + 1 part buffers
 * (storage/multipart-stream.ts), and, when an instance outgrows one part, the part's worth of
 * chunks collected until then, copied into the first buffer and only then let go.
 */
export function uploadBufferMiB(partSizeMiB: number, partConcurrency: number): number {
  return partSizeMiB * (partConcurrency + 2);
}

// Bearer tokens (OAuth 2.0 / OpenID Connect). The stack writes these variables when its
// authMode includes oidc, and checks its `oidc` block with the same rules as the service.

export const OIDC_ISSUER_ENV = "OIDC_ISSUER";
export const OIDC_AUDIENCE_ENV = "OIDC_AUDIENCE";
export const OIDC_REQUIRED_SCOPE_ENV = "OIDC_REQUIRED_SCOPE";
export const OIDC_ALGORITHMS_ENV = "OIDC_ALGORITHMS";
export const OIDC_DEFAULT_SCOPE = "dicomweb.write";
export const OIDC_DEFAULT_ALGORITHMS: readonly string[] = ["RS256", "PS256", "ES256"];
/** Signature algorithms checked with a public key from the issuer's JWKS. HMAC and "none" are not among them. */
export const OIDC_SUPPORTED_ALGORITHMS: readonly string[] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
/** `true`: only RFC 9068 access tokens (`typ: at+jwt`) are accepted. */
export const OIDC_REQUIRE_AT_JWT_ENV = "OIDC_REQUIRE_AT_JWT";
/** The JWKS URL, when the issuer publishes its keys on another origin than its own. */
export const OIDC_JWKS_URI_ENV = "OIDC_JWKS_URI";
export const OIDC_CLOCK_SKEW_SECONDS: IntegerSetting = { env: "OIDC_CLOCK_SKEW_SECONDS", default: 30, min: 0, max: 300 };

/** 127.0.0.0/8, ::1 and localhost: the only hosts an http:// issuer may have. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** Why `text` cannot be an issuer URL, or undefined when it can. */
export function oidcIssuerProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL`;
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
    return `"${text}" must be an https:// URL (http:// only on a loopback address, for local use)`;
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    return `"${text}" must not carry a query, a fragment or credentials (OpenID Connect Discovery 1.0)`;
  }
  return undefined;
}

/**
 * Why `text` cannot be where the issuer's keys are fetched from, or undefined when it can:
 * https://, or plain http:// only when the issuer itself is on a loopback address too (local use).
 */
export function oidcJwksUriProblem(text: string, issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL`;
  }
  let issuerLoopback = false;
  try {
    issuerLoopback = isLoopbackHost(new URL(issuer).hostname);
  } catch {
    /* the issuer's own problem is reported on its own */
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname) && issuerLoopback)) {
    return `"${text}" must be an https:// URL (http:// only on a loopback address, with an issuer on one too)`;
  }
  if (url.hash !== "" || url.username !== "" || url.password !== "") return `"${text}" must not carry a fragment or credentials`;
  return undefined;
}

/** The algorithms in a comma-separated list, in canonical spelling; or the problem with them. */
export function parseOidcAlgorithms(text: string): { algorithms: string[] } | { problem: string } {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (names.length === 0) return { problem: `lists no algorithm; use some of ${OIDC_SUPPORTED_ALGORITHMS.join(", ")}` };
  const algorithms: string[] = [];
  for (const name of names) {
    if (/^HS\d+$/i.test(name)) {
      return { problem: `${name} is refused: HMAC needs a shared secret, and accepting it lets a token "signed" with the issuer's public key pass` };
    }
    if (name.toLowerCase() === "none") return { problem: `"none" is refused: it means an unsigned token` };
    const known = OIDC_SUPPORTED_ALGORITHMS.find((a) => a.toLowerCase() === name.toLowerCase());
    if (!known) return { problem: `${name} is not a supported algorithm; use some of ${OIDC_SUPPORTED_ALGORITHMS.join(", ")}` };
    if (!algorithms.includes(known)) algorithms.push(known);
  }
  return { algorithms };
}

/** Why `text` cannot be a scope (RFC 6749 section 3.3: one scope-token, no spaces or quotes), or undefined. */
export function oidcScopeProblem(text: string): string | undefined {
  return /^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/.test(text) ? undefined : `"${text}" is not a single OAuth scope (printable ASCII without spaces, " or \\)`;
}

/** Why `text` cannot be an audience, or undefined. */
export function oidcAudienceProblem(text: string): string | undefined {
  return /^[^\x00-\x20\x7f"\\]{1,1024}$/.test(text) ? undefined : `"${text}" must be 1 to 1024 printable characters without spaces, " or \\`;
}
