// The WWW-Authenticate value of a refusal (RFC 6750 section 3).
import { quotedStringText } from "../routes/header-value.js";
import type { RefusalReason } from "./token-verifier.js";

export const REALM = "stowrs";

/**
 * No error code when the request carried no bearer token at all (section 3.1: the client may not
 * know authentication is needed); invalid_token for any token that did not verify;
 * insufficient_scope, with the scope needed, for a valid token without it.
 */
export function wwwAuthenticate(refusal: { status: 401 | 403; reason: RefusalReason; description: string }, requiredScope: string): string {
  if (refusal.reason === "missing" || refusal.reason === "not_bearer") return `Bearer realm="${REALM}"`;
  // Our own sentences, but they may quote the token: quoted-string rules hold whatever they say.
  const description = quotedStringText(refusal.description, 1024);
  if (refusal.status === 403) return `Bearer realm="${REALM}", error="insufficient_scope", error_description="${description}", scope="${requiredScope}"`;
  return `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`;
}
