// Hono middleware in front of everything but /health and /ready when bearer tokens are on:
// checks the token before any byte of the body is read, and answers a refusal at once
// (401 / 403 with WWW-Authenticate, 503 with Retry-After). Like the capacity 503, it keeps the
// connection: Node reads and discards the unread body, so a client that sends its whole body
// before reading still sees the answer. Nothing of a refused request reaches S3.
import type { Context, MiddlewareHandler } from "hono";
import { errorResponse } from "../routes/error-response.js";
import type { ServiceContext } from "../service-context.js";
import { wwwAuthenticate } from "./challenge.js";
import type { Principal, TokenVerifier } from "./token-verifier.js";

declare module "hono" {
  interface ContextVariableMap {
    /** Who the request's bearer token names; set by the bearer guard. */
    principal: Principal;
  }
}

export function bearerGuard(svc: ServiceContext, verifier: TokenVerifier, requiredScope: string): MiddlewareHandler {
  return async (c, next) => {
    const verdict = await verifier.verify(c.req.header("authorization"));
    if (verdict.ok) {
      c.set("principal", { sub: verdict.sub, clientId: verdict.clientId });
      return next();
    }
    // Set, and echoed in the answer, by app.ts's requestId middleware in front of the guard.
    const requestId = c.get("requestId");
    svc.metrics.authRefusals.inc({ status: String(verdict.status), reason: verdict.reason });
    // The token itself is never logged; for a valid token without the scope, whom it names is.
    const who = verdict.status === 403 ? verdict.principal : undefined;
    svc.log.info({ requestId, status: verdict.status, reason: verdict.reason, method: c.req.method, path: c.req.path, ...who }, "request refused: bearer token");
    if (verdict.status === 503) {
      c.header("Retry-After", String(verdict.retryAfterSeconds));
      return errorResponse(c, 503, verdict.description);
    }
    c.header("WWW-Authenticate", wwwAuthenticate(verdict, requiredScope));
    return errorResponse(c, verdict.status, verdict.description);
  };
}

/** `sub` and `clientId` of the accepted token, for log lines; empty without bearer tokens. */
export function principalOf(c: Context): Principal {
  return c.get("principal") ?? {};
}
