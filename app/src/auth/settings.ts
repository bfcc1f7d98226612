// OIDC_* settings: read and checked with the rest of the configuration (config.ts), so an
// invalid value stops start-up naming the variable, together with every other problem.
import {
  OIDC_ALGORITHMS_ENV,
  OIDC_AUDIENCE_ENV,
  OIDC_CLOCK_SKEW_SECONDS,
  OIDC_DEFAULT_ALGORITHMS,
  OIDC_DEFAULT_SCOPE,
  OIDC_ISSUER_ENV,
  OIDC_JWKS_URI_ENV,
  OIDC_REQUIRE_AT_JWT_ENV,
  OIDC_REQUIRED_SCOPE_ENV,
  oidcAudienceProblem,
  oidcIssuerProblem,
  oidcJwksUriProblem,
  oidcScopeProblem,
  parseOidcAlgorithms,
} from "../config-limits.js";

export interface OidcSettings {
  /** Exactly as configured: a token's `iss` must be this string, byte for byte. */
  issuer: string;
  audience: string;
  requiredScope: string;
  algorithms: string[];
  clockSkewSeconds: number;
  /** Only RFC 9068 access tokens (typ at+jwt); otherwise plain JWT and no typ pass too (Keycloak, Entra ID, Cognito). */
  requireAtJwt: boolean;
  /** Where the keys must be fetched from when not on the issuer's own origin; undefined: on its origin. */
  jwksUri: string | undefined;
  /** An unknown `kid` refetches the JWKS at most this often (jose's cooldownDuration). */
  jwksCooldownMs: number;
  /** The JWKS is fetched again in the background this often, so removed keys drop out. */
  jwksRefreshMs: number;
  /** Per fetch of the discovery document or the JWKS. */
  fetchTimeoutMs: number;
  /** After a failed fetch, nothing is fetched for this long (requests needing a new key get 503). */
  failureBackoffMs: number;
}

/** The parts of config.ts's reader this needs: its messages and its problem list. */
export interface SettingReader {
  text(name: string): string | undefined;
  int(name: string, dflt: number, min: number, max: number): number;
  problem(message: string): void;
}

// Tuning, mostly for tests. The cooldown and back-off are capped so that a removed key or an
// issuer that came back is noticed within 30 s whatever is configured.
const COOLDOWN = { env: "OIDC_JWKS_COOLDOWN_SECONDS", default: 30, min: 1, max: 30 };
const BACKOFF = { env: "OIDC_FAILURE_BACKOFF_SECONDS", default: 5, min: 1, max: 30 };
const TIMEOUT = { env: "OIDC_FETCH_TIMEOUT_SECONDS", default: 5, min: 1, max: 30 };
const REFRESH = { env: "OIDC_JWKS_REFRESH_SECONDS", default: 600, min: 1, max: 86_400 };

export const OIDC_VARIABLES = [
  OIDC_ISSUER_ENV,
  OIDC_AUDIENCE_ENV,
  OIDC_REQUIRED_SCOPE_ENV,
  OIDC_ALGORITHMS_ENV,
  OIDC_CLOCK_SKEW_SECONDS.env,
  OIDC_REQUIRE_AT_JWT_ENV,
  OIDC_JWKS_URI_ENV,
  COOLDOWN.env,
  BACKOFF.env,
  TIMEOUT.env,
  REFRESH.env,
];

export function readOidcSettings(env: Record<string, string | undefined>, r: SettingReader): OidcSettings | undefined {
  // A misspelt security setting must not pass silently as its default.
  for (const name of Object.keys(env)) {
    if (name.startsWith("OIDC_") && !OIDC_VARIABLES.includes(name) && r.text(name) !== undefined) {
      r.problem(`${name}: not a setting of this service (the OIDC settings are ${OIDC_VARIABLES.join(", ")})`);
    }
  }
  const issuer = r.text(OIDC_ISSUER_ENV);
  if (issuer === undefined) {
    for (const name of OIDC_VARIABLES) {
      if (r.text(name) !== undefined) r.problem(`${name}: set, but ${OIDC_ISSUER_ENV} is not: bearer tokens are checked only when ${OIDC_ISSUER_ENV} is set`);
    }
    return undefined;
  }
  const issuerProblem = oidcIssuerProblem(issuer);
  if (issuerProblem) r.problem(`${OIDC_ISSUER_ENV}: ${issuerProblem}`);

  const audience = r.text(OIDC_AUDIENCE_ENV);
  if (audience === undefined) {
    r.problem(`${OIDC_AUDIENCE_ENV}: required with ${OIDC_ISSUER_ENV}: the audience (aud) tokens for this service carry`);
  } else {
    const problem = oidcAudienceProblem(audience);
    if (problem) r.problem(`${OIDC_AUDIENCE_ENV}: ${problem}`);
  }

  const requiredScope = r.text(OIDC_REQUIRED_SCOPE_ENV) ?? OIDC_DEFAULT_SCOPE;
  const scopeProblem = oidcScopeProblem(requiredScope);
  if (scopeProblem) r.problem(`${OIDC_REQUIRED_SCOPE_ENV}: ${scopeProblem}`);

  let algorithms = [...OIDC_DEFAULT_ALGORITHMS];
  const rawAlgorithms = r.text(OIDC_ALGORITHMS_ENV);
  if (rawAlgorithms !== undefined) {
    const parsed = parseOidcAlgorithms(rawAlgorithms);
    if ("problem" in parsed) r.problem(`${OIDC_ALGORITHMS_ENV}: ${parsed.problem}`);
    else algorithms = parsed.algorithms;
  }

  let requireAtJwt = false;
  const rawRequire = r.text(OIDC_REQUIRE_AT_JWT_ENV)?.toLowerCase();
  if (rawRequire !== undefined) {
    if (["1", "true", "yes", "on"].includes(rawRequire)) requireAtJwt = true;
    else if (!["0", "false", "no", "off"].includes(rawRequire)) r.problem(`${OIDC_REQUIRE_AT_JWT_ENV}: expected true or false, got "${rawRequire}"`);
  }

  let jwksUri = r.text(OIDC_JWKS_URI_ENV);
  if (jwksUri !== undefined) {
    const problem = oidcJwksUriProblem(jwksUri, issuer);
    if (problem) r.problem(`${OIDC_JWKS_URI_ENV}: ${problem}`);
    // Compared with the discovery document's jwks_uri in the same spelling.
    else jwksUri = new URL(jwksUri).href;
  }

  const { env: skewEnv, default: skewDefault, min: skewMin, max: skewMax } = OIDC_CLOCK_SKEW_SECONDS;
  const seconds = (s: typeof COOLDOWN) => r.int(s.env, s.default, s.min, s.max) * 1000;
  return {
    issuer,
    audience: audience ?? "",
    requiredScope,
    algorithms,
    clockSkewSeconds: r.int(skewEnv, skewDefault, skewMin, skewMax),
    requireAtJwt,
    jwksUri,
    jwksCooldownMs: seconds(COOLDOWN),
    jwksRefreshMs: seconds(REFRESH),
    fetchTimeoutMs: seconds(TIMEOUT),
    failureBackoffMs: seconds(BACKOFF),
  };
}
