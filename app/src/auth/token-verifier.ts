// One Authorization header in, one verdict out: accepted (with who the token names), or refused
// with the status, a reason from a fixed set (metric label values) and a sentence of our own
// (never text from the token). jose checks the signature, alg, iss, exp and nbf; the checks it
// has no option for (typ from a set, iat not in the future, aud or Cognito's client_id, scope
// sources) are here.
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import { IssuerUnavailable, type IssuerKeys } from "./issuer-keys.js";
import { grantedScopes } from "./scopes.js";
import type { OidcSettings } from "./settings.js";

export const REFUSAL_REASONS = [
  "missing",
  "not_bearer",
  "malformed",
  "bad_type",
  "alg_not_allowed",
  "unknown_key",
  "bad_signature",
  "bad_issuer",
  "bad_audience",
  "expired",
  "not_yet_valid",
  "issued_in_future",
  "bad_claim",
  "unverifiable",
  "insufficient_scope",
  "issuer_unavailable",
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Principal {
  sub?: string;
  /** `client_id` (RFC 9068, Cognito) or `azp` (Keycloak, Entra ID v2). */
  clientId?: string;
}

export type Verdict =
  | ({ ok: true; claims: JWTPayload } & Principal)
  | { ok: false; status: 401 | 403; reason: RefusalReason; description: string; principal?: Principal }
  | { ok: false; status: 503; reason: "issuer_unavailable"; description: string; retryAfterSeconds: number };

export interface TokenVerifier {
  verify(authorization: string | undefined): Promise<Verdict>;
}

/** RFC 6750 section 2.1: "Bearer", then a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
/** RFC 9068 access tokens; plain JWT (Keycloak, Entra ID) or none (Amazon Cognito). */
const ACCEPTED_TYPES = ["at+jwt", "jwt", undefined];
/** OIDC_REQUIRE_AT_JWT=true: RFC 9068 access tokens only. */
const AT_JWT_ONLY = ["at+jwt"];
/** Claims only an ID token carries (OpenID Connect Core 1.0, sections 2 and 3.3.2.11). */
const ID_TOKEN_CLAIMS = ["nonce", "at_hash", "c_hash"];

export function createTokenVerifier(settings: OidcSettings, keys: IssuerKeys): TokenVerifier {
  const invalid = (reason: RefusalReason, description: string): Verdict => ({ ok: false, status: 401, reason, description });

  async function verify(authorization: string | undefined): Promise<Verdict> {
    if (authorization === undefined || authorization.trim() === "") return invalid("missing", "a bearer token is required");
    if (!/^Bearer(\s|$)/i.test(authorization)) return invalid("not_bearer", "a bearer token is required (Authorization: Bearer <token>)");
    const token = BEARER.exec(authorization)?.[1];
    if (token === undefined || token.split(".").length !== 3) return invalid("malformed", "the token is not a signed JWT");
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return invalid("malformed", "the token is not a signed JWT");
    }
    // Every provider in scope names its key; without a kid jose would try whichever key fits.
    if (typeof header.kid !== "string" || header.kid === "") return invalid("malformed", "the token header names no key (kid)");
    if (!(settings.requireAtJwt ? AT_JWT_ONLY : ACCEPTED_TYPES).includes(normalisedType(header.typ))) {
      return invalid("bad_type", settings.requireAtJwt ? "the token is not an access token (typ must be at+jwt)" : "the token is not an access token (typ)");
    }

    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys.getKey, {
        issuer: settings.issuer,
        algorithms: settings.algorithms,
        clockTolerance: settings.clockSkewSeconds,
        requiredClaims: ["exp"],
      }));
    } catch (err) {
      return refusalFor(err);
    }

    // Signed by the issuer, but an ID token: Cognito says so in token_use, Keycloak in the payload's typ.
    if ((claims.token_use !== undefined && claims.token_use !== "access") || claims.typ === "ID") return invalid("bad_type", "the token is not an access token");
    // Whatever its typ says: an access token never carries these, so this is someone's ID token
    // (for a login at some client of the issuer), sent where an access token belongs.
    if (ID_TOKEN_CLAIMS.some((name) => claims[name] !== undefined)) return invalid("bad_type", "the token is an ID token, not an access token");
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.iat === "number" && claims.iat > now + settings.clockSkewSeconds) return invalid("issued_in_future", "the token was issued in the future");
    if (!forAudience(claims, settings.audience)) return invalid("bad_audience", "the token is for another audience");

    const principal: Principal = {
      sub: typeof claims.sub === "string" ? claims.sub : undefined,
      clientId: [claims.client_id, claims.azp].find((v): v is string => typeof v === "string"),
    };
    if (!grantedScopes(claims, settings.audience).has(settings.requiredScope)) {
      return { ok: false, status: 403, reason: "insufficient_scope", description: `the token does not grant ${settings.requiredScope}`, principal };
    }
    return { ok: true, claims, ...principal };
  }

  function refusalFor(err: unknown): Verdict {
    if (err instanceof IssuerUnavailable) {
      return { ok: false, status: 503, reason: "issuer_unavailable", description: "the token issuer cannot be reached to check this token; retry later", retryAfterSeconds: keys.retryAfterSeconds() };
    }
    const { code, claim } = err as { code?: string; claim?: string };
    switch (code) {
      case "ERR_JWT_EXPIRED":
        return invalid("expired", "the token has expired");
      case "ERR_JWT_CLAIM_VALIDATION_FAILED":
        if (claim === "nbf") return invalid("not_yet_valid", "the token is not valid yet");
        if (claim === "iss") return invalid("bad_issuer", "the token is from another issuer");
        return invalid("bad_claim", claim === "exp" || claim === "iat" ? `the token's ${claim} claim is missing or invalid` : "the token's claims are invalid");
      case "ERR_JOSE_ALG_NOT_ALLOWED":
        return invalid("alg_not_allowed", "the token's signing algorithm is not accepted");
      case "ERR_JWKS_NO_MATCHING_KEY":
      case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
        return invalid("unknown_key", "the token is signed with a key the issuer does not publish");
      case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
        return invalid("bad_signature", "the token's signature is invalid");
      case "ERR_JWS_INVALID":
      case "ERR_JWT_INVALID":
      case "ERR_JOSE_NOT_SUPPORTED":
        return invalid("malformed", "the token is malformed");
      default:
        // Whatever else went wrong, the token was not verified: a refusal, never a pass.
        return invalid("unverifiable", "the token could not be verified");
    }
  }

  return { verify };
}

/** `typ` compared as RFC 7515 section 4.1.9 says: case-insensitive, "application/" optional. */
function normalisedType(typ: unknown): string | undefined {
  if (typ === undefined) return undefined;
  if (typeof typ !== "string") return "(not a string)";
  return typ.toLowerCase().replace(/^application\//, "");
}

/** `aud` contains the audience; a token without any `aud` may name it as `client_id` (Amazon Cognito access tokens). */
function forAudience(claims: JWTPayload, audience: string): boolean {
  if (claims.aud === undefined) return claims.client_id === audience;
  return Array.isArray(claims.aud) ? claims.aud.includes(audience) : claims.aud === audience;
}
