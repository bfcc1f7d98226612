// Bearer-token checking as the service runs it: the issuer's keys and the verifier over them,
// with discovery started at once in the background (start-up never waits for the issuer).
import type { Logger } from "pino";
import { createIssuerKeys } from "./issuer-keys.js";
import type { OidcSettings } from "./settings.js";
import { createTokenVerifier, type TokenVerifier } from "./token-verifier.js";

export interface BearerAuth extends TokenVerifier {
  close(): void;
}

export function startBearerAuth(settings: OidcSettings, log: Logger): BearerAuth {
  const keys = createIssuerKeys(settings, { log });
  const verifier = createTokenVerifier(settings, keys);
  void keys.refresh();
  return { verify: verifier.verify, close: keys.close };
}
