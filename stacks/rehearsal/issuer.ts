// The token issuer of a stack with bearer tokens, stood in for on this machine: the test
// OpenID provider (oidc-provider) on loopback, issuing access tokens for the stack's audience
// and scope, signed with the first algorithm the stack allows that it can make a key for.
import { makeSigningKey, startIssuer, type SigningAlgorithm } from "../../app/test/support/oidc-issuer";
import type { OidcConfig } from "../config";

const SIGNABLE: readonly SigningAlgorithm[] = ["RS256", "PS256", "ES256"];

export interface StandInIssuer {
  url: string;
  resource: string;
  algorithm: SigningAlgorithm;
  token(): Promise<string>;
  close(): Promise<void>;
}

export async function startStandInIssuer(oidc: OidcConfig): Promise<StandInIssuer> {
  const algorithm = SIGNABLE.find((a) => oidc.algorithms.includes(a));
  if (!algorithm) throw new Error(`it signs with ${SIGNABLE.join(", ")}, and the stack allows only ${oidc.algorithms.join(", ")}`);
  const issuer = await startIssuer({ audience: oidc.audience, keys: [await makeSigningKey(algorithm, "rehearsal-key")], writeScope: oidc.requiredScope });
  return { url: issuer.issuer, resource: issuer.resource, algorithm, token: () => issuer.token(), close: () => issuer.close() };
}
