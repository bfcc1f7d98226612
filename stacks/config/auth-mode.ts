// certificate.authMode: who may store. Read by the certificate block, used by oidc's.

/**
 * Who may store: anyone in allowedPeers (anonymous), holders of a client certificate
 * (clientauth, checked by nginx), holders of a bearer token (oidc, checked by the app), or both.
 */
export type AuthMode = "anonymous" | "clientauth" | "oidc" | "clientauth+oidc";
export const AUTH_MODES: readonly AuthMode[] = ["anonymous", "clientauth", "oidc", "clientauth+oidc"];

export function usesClientCertificates(mode: AuthMode): boolean {
  return mode === "clientauth" || mode === "clientauth+oidc";
}

export function usesBearerTokens(mode: AuthMode): boolean {
  return mode === "oidc" || mode === "clientauth+oidc";
}
