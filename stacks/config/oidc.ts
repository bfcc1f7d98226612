// oidc: the token issuer the app trusts when certificate.authMode includes oidc, checked
// with the app's own rules (app/src/config-limits.ts) and the stack's egress.
import {
  OIDC_DEFAULT_ALGORITHMS,
  OIDC_DEFAULT_SCOPE,
  oidcAudienceProblem,
  oidcIssuerProblem,
  oidcScopeProblem,
  parseOidcAlgorithms,
} from "../../app/src/config-limits";
import { isPlaceholderHost } from "../placeholders";
import { defineBlock } from "./block";
import { usesBearerTokens, type AuthMode } from "./auth-mode";
import type { CertificateConfig } from "./certificate";
import { NAMESPACE } from "./reader";

/** The token issuer the app trusts (authMode oidc or clientauth+oidc); the app's OIDC_* settings. */
export interface OidcConfig {
  /** The issuer URL exactly as tokens carry it in iss; https on port 443. @default none (required) */
  issuer: string;
  /** The aud value tokens for this service carry. @default none (required) */
  audience: string;
  /** The scope a token must grant. @default OIDC_DEFAULT_SCOPE ("dicomweb.write") */
  requiredScope: string;
  /** Accepted signature algorithms (never HMAC or none). @default OIDC_DEFAULT_ALGORITHMS (RS256, PS256, ES256) */
  algorithms: string[];
}

export const oidcBlock = defineBlock({
  keys: ["oidc"],
  read(r, earlier: { certificate: CertificateConfig }): {
    /** Set exactly when certificate.authMode includes oidc. */
    oidc?: OidcConfig;
  } {
    const oidc = readOidc(r.raw("oidc"), earlier.certificate.authMode);
    return oidc ? { oidc } : {};

    function readOidc(raw: string | undefined, authMode: AuthMode): OidcConfig | undefined {
      const key = "oidc";
      const example = `{ issuer: https://idp.hospital.example/realms/imaging, audience: stowrs }`;
      if (!usesBearerTokens(authMode)) {
        if (raw !== undefined) r.report(key, `only used with certificate.authMode oidc or clientauth+oidc (the stack's is ${authMode})`);
        return undefined;
      }
      const fields = r.object(key, raw, example);
      if (fields === undefined) {
        if (raw === undefined) r.report(key, `required with certificate.authMode ${authMode}: the issuer whose tokens the service accepts, like ${example}`);
        return undefined;
      }
      r.unknownFields(key, fields, ["issuer", "audience", "requiredScope", "algorithms"]);
      let ok = true;
      const problem = (text: string) => {
        r.report(key, text);
        ok = false;
      };
      const issuer = r.text(key, "issuer", fields.issuer, "");
      if (issuer === "") problem("issuer is required: the identity provider's issuer URL, exactly as its tokens carry it in iss");
      else {
        const issuerProblem = oidcIssuerProblem(issuer);
        const url = issuerProblem ? undefined : new URL(issuer);
        if (issuerProblem) problem(`issuer ${issuerProblem}`);
        // The tasks reach the internet through NAT on 443 only (service.ts); loopback is this machine's, not theirs.
        else if (url!.protocol !== "https:") problem(`issuer "${issuer}" must be https:// in a stack: the tasks fetch its keys over the internet`);
        else if (url!.port !== "" && url!.port !== "443") problem(`issuer "${issuer}" uses port ${url!.port}; the tasks may reach out on 443 only`);
      }
      const audience = r.text(key, "audience", fields.audience, "");
      if (audience === "") problem("audience is required: the aud value tokens for this service carry (for Amazon Cognito, the app client id)");
      else {
        const audienceProblem = oidcAudienceProblem(audience);
        if (audienceProblem) problem(`audience ${audienceProblem}`);
      }
      const requiredScope = r.text(key, "requiredScope", fields.requiredScope, OIDC_DEFAULT_SCOPE);
      const scopeProblem = oidcScopeProblem(requiredScope);
      if (scopeProblem) problem(`requiredScope ${scopeProblem}`);
      let algorithms = [...OIDC_DEFAULT_ALGORITHMS];
      if (fields.algorithms !== undefined) {
        const list = Array.isArray(fields.algorithms) ? fields.algorithms : typeof fields.algorithms === "string" ? [fields.algorithms] : undefined;
        const parsed = list?.every((a) => typeof a === "string") ? parseOidcAlgorithms(list.join(",")) : undefined;
        if (parsed === undefined) problem(`algorithms must be a list like [RS256, ES256], got ${JSON.stringify(fields.algorithms)}`);
        else if ("problem" in parsed) problem(`algorithms: ${parsed.problem}`);
        else algorithms = parsed.algorithms;
      }
      return ok ? { issuer, audience, requiredScope, algorithms } : undefined;
    }
  },
  placeholders({ oidc }) {
    if (!oidc || !isPlaceholderHost(new URL(oidc.issuer).hostname)) return [];
    return [
      {
        key: `${NAMESPACE}:oidc`,
        message: `issuer ${oidc.issuer} names an example or documentation host: no token could ever be checked; name your identity provider`,
      },
    ];
  },
});
