// The issuer's signing keys: discovery (lazy, retried), the JWKS (jose's remote key set, cached
// without an age limit and fetched again in the background), and a back-off after any failed
// fetch. jose selects the key and does every cryptographic step; this file only decides when
// the network may be used, and turns "could not ask the issuer" into IssuerUnavailable (503).
import { createRemoteJWKSet, customFetch, errors, type FlattenedJWSInput, type JWSHeaderParameters, type RemoteJWKSet } from "jose";
import type { Logger } from "pino";
import { oidcJwksUriProblem } from "../config-limits.js";
import type { OidcSettings } from "./settings.js";

/** The issuer could not be asked for what a token needs: a 503, never a 401 and never a pass. */
export class IssuerUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "IssuerUnavailable";
  }
}

/** The discovery document and the JWKS are small; a larger answer is refused, read no further than this. */
export const ISSUER_DOCUMENT_MAX_BYTES = 256 * 1024;

export interface IssuerKeys {
  /** jose's key resolver, for jwtVerify: JWKSNoMatchingKey for an unknown kid, IssuerUnavailable when it cannot ask. */
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): ReturnType<RemoteJWKSet>;
  /** Discovery and a JWKS fetch now; false (and logged) when the issuer could not be reached. Never throws. */
  refresh(): Promise<boolean>;
  /** Seconds until the issuer may be asked again (for Retry-After). */
  retryAfterSeconds(): number;
  /** Stops the background refresh and aborts fetches in flight. */
  close(): void;
}

export interface IssuerKeysOptions {
  log?: Logger;
  /** Called before each request to the issuer (tests count them). */
  onFetch?: (url: string) => void;
}

export function createIssuerKeys(settings: OidcSettings, options: IssuerKeysOptions = {}): IssuerKeys {
  const { log, onFetch } = options;
  const closing = new AbortController();
  let lastFailureAt = Number.NEGATIVE_INFINITY;
  let lastFailure = "";

  const failed = (what: string, err: unknown): IssuerUnavailable => {
    lastFailureAt = Date.now();
    lastFailure = `${what}: ${describe(err)}`;
    log?.warn({ issuer: settings.issuer, error: lastFailure, retryInSeconds: settings.failureBackoffMs / 1000 }, "OIDC issuer not usable");
    return err instanceof IssuerUnavailable ? err : new IssuerUnavailable(lastFailure, { cause: err });
  };

  // Every request to the issuer goes through here. jose waits out its cooldown only after a
  // successful fetch; after a failure this back-off keeps forged kids or an outage from turning
  // into one fetch per request.
  const guardedFetch = async (url: string, init: RequestInit = {}): Promise<Response> => {
    if (Date.now() - lastFailureAt < settings.failureBackoffMs) {
      throw new IssuerUnavailable(`not asking the issuer again yet (${lastFailure})`);
    }
    onFetch?.(url);
    const signals = [closing.signal, init.signal ?? AbortSignal.timeout(settings.fetchTimeoutMs)];
    let res: Response;
    try {
      res = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.any(signals) });
    } catch (err) {
      throw failed(`GET ${url}`, err);
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw failed(`GET ${url}`, new Error(`HTTP ${res.status}`));
    }
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = await boundedBody(res, ISSUER_DOCUMENT_MAX_BYTES);
    } catch (err) {
      throw failed(`GET ${url}`, err);
    }
    // Handed on whole: jose (and discovery) parse it as JSON.
    return new Response(body, { status: 200, headers: res.headers });
  };

  let remote: Promise<RemoteJWKSet> | undefined;
  const remoteKeySet = (): Promise<RemoteJWKSet> => {
    remote ??= discover().catch((err) => {
      remote = undefined; // the next request after the back-off tries again
      throw err;
    });
    return remote;
  };

  const discover = async (): Promise<RemoteJWKSet> => {
    const url = `${settings.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
    const res = await guardedFetch(url, { headers: { accept: "application/json" } });
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      doc = (await res.json()) as typeof doc;
    } catch (err) {
      throw failed(`the discovery document at ${url} is not JSON`, err);
    }
    // OpenID Connect Discovery 1.0, section 4.3: the document must name exactly the configured issuer.
    if (doc?.issuer !== settings.issuer) {
      throw failed(`the discovery document at ${url}`, new Error(`names issuer ${JSON.stringify(doc?.issuer)}, not OIDC_ISSUER "${settings.issuer}" (the match is exact, trailing "/" included)`));
    }
    let jwksUri: URL;
    try {
      jwksUri = new URL(String(doc.jwks_uri));
    } catch (err) {
      throw failed(`the discovery document at ${url} has no usable jwks_uri`, err);
    }
    // The keys come from the issuer's own origin, or from where OIDC_JWKS_URI says: a discovery
    // document that names another host is not enough to make the service trust its keys.
    if (settings.jwksUri !== undefined && jwksUri.href !== settings.jwksUri) {
      throw failed(`the discovery document at ${url}`, new Error(`names jwks_uri ${jwksUri.href}, not OIDC_JWKS_URI ${settings.jwksUri}`));
    }
    if (settings.jwksUri === undefined && jwksUri.origin !== new URL(settings.issuer).origin) {
      throw failed(`the discovery document at ${url}`, new Error(`names jwks_uri ${jwksUri.href}, not on the issuer's origin; set OIDC_JWKS_URI to it if that is where the issuer's keys are`));
    }
    const problem = oidcJwksUriProblem(jwksUri.href, settings.issuer);
    if (problem) throw failed(`the discovery document at ${url}`, new Error(`jwks_uri ${problem}`));
    log?.info({ issuer: settings.issuer, jwksUri: jwksUri.href }, "OIDC issuer discovered");
    return createRemoteJWKSet(jwksUri, {
      cooldownDuration: settings.jwksCooldownMs,
      // Known keys stay usable while the issuer is down; the background refresh drops removed ones.
      cacheMaxAge: Number.POSITIVE_INFINITY,
      timeoutDuration: settings.fetchTimeoutMs,
      [customFetch]: guardedFetch,
    });
  };

  const getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): ReturnType<RemoteJWKSet> => {
    const keySet = await remoteKeySet();
    try {
      return await keySet(header, token);
    } catch (err) {
      // "No such key" is the token's problem (401); anything else is the issuer's (503).
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof IssuerUnavailable) throw err;
      throw failed("the JWKS", err);
    }
  };

  const refresh = async (): Promise<boolean> => {
    try {
      const keySet = await remoteKeySet();
      await keySet.reload();
      return true;
    } catch (err) {
      if (!(err instanceof IssuerUnavailable)) failed("the JWKS", err);
      return false;
    }
  };

  const timer = setInterval(() => void refresh(), settings.jwksRefreshMs);
  timer.unref();

  return {
    getKey,
    refresh,
    retryAfterSeconds: () => Math.max(1, Math.ceil((lastFailureAt + settings.failureBackoffMs - Date.now()) / 1000)),
    close() {
      clearInterval(timer);
      closing.abort();
    },
  };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici reports network failures as "fetch failed" with the reason in `cause`.
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return detail ? `${err.message} (${detail})` : err.message;
}

/** The body of an answer, read as it streams in and given up on as soon as it is larger than `max`. */
async function boundedBody(res: Response, max: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`the answer is ${declared} bytes, more than the ${max} allowed`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel().catch(() => undefined);
        throw new Error(`the answer is more than the ${max} bytes allowed`);
      }
      chunks.push(value);
    }
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}
