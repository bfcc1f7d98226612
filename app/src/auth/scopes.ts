// Where an access token says what it may do. Each identity provider puts it somewhere else:
// RFC 9068 / oidc-provider / Amazon Cognito: `scope` (space-separated); Microsoft Entra ID:
// `scp` (delegated) or `roles` (application permissions, the client-credentials case); Okta:
// `scp` as an array; Keycloak: also realm roles and the roles of the client named by the audience.
import type { JWTPayload } from "jose";

export function grantedScopes(claims: JWTPayload, audience: string): Set<string> {
  const granted = new Set<string>();
  const addWords = (value: unknown) => {
    if (typeof value === "string") for (const word of value.split(" ")) if (word !== "") granted.add(word);
  };
  const addList = (value: unknown) => {
    if (Array.isArray(value)) for (const item of value) if (typeof item === "string" && item !== "") granted.add(item);
  };
  addWords(claims.scope);
  addWords(claims.scp);
  addList(claims.scp);
  addList(claims.roles);
  const realm = claims.realm_access as { roles?: unknown } | undefined;
  addList(realm?.roles);
  const resources = claims.resource_access as Record<string, { roles?: unknown } | undefined> | undefined;
  // Own property only: an audience such as "__proto__" must not reach Object.prototype.
  if (resources && typeof resources === "object" && Object.hasOwn(resources, audience)) addList(resources[audience]?.roles);
  return granted;
}
