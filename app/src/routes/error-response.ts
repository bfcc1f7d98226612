// The one way errors travel to a response: small JSON documents for errors outside the Store
// Instances Response, and the central handler for faults of the service (app.onError), which
// still answers a store request whose instances were read with the Store Instances Response.
import type { Context, ErrorHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ServiceContext } from "../service-context.js";
import { Reason } from "../stow/reasons.js";
import { storeAnswer } from "./store-answer.js";

const INTERNAL_ERROR = "internal error; see the service log";

/** Errors outside the Store Instances Response are small JSON objects, never HTML. */
export function errorResponse(c: Context, status: ContentfulStatusCode, message: string) {
  return c.json({ status, error: message }, status);
}

/**
 * app.onError. A fault after a store request's body was read (its result is on the context) is
 * one more processing failure (0x0110) of that request: the answer lists what was stored, 202 or
 * 409, never a 500 that would hide it. Anything else is a JSON 500; the details go to the log only.
 */
export function faultHandler(svc: ServiceContext): ErrorHandler {
  return (err, c) => {
    svc.log.error({ err: { name: err.name, message: err.message, stack: err.stack }, path: c.req.path }, "unhandled error");
    const pending = c.get("storeAnswer");
    if (pending) {
      try {
        if (!pending.result.faulted) {
          pending.result.faulted = true;
          pending.result.otherFailures.push({ reason: Reason.ProcessingFailure, message: "processing failure (a fault of the service; see its log)" });
        }
        return storeAnswer(c, pending, svc.config.wadoUrl);
      } catch (again) {
        svc.log.error({ err: { message: again instanceof Error ? again.message : String(again) } }, "the Store Instances Response could not be built");
      }
    }
    return errorResponse(c, 500, INTERNAL_ERROR);
  };
}

/**
 * For @hono/node-server's own refusals, before the app sees the request (a backslash in the path,
 * an unusable Host header: its RequestError), which it would otherwise answer with an empty body.
 */
export function requestErrorResponse(err: unknown): Response {
  const refused = err instanceof Error && err.name === "RequestError";
  const status = refused ? 400 : 500;
  const message = refused ? `the request cannot be read: ${err.message}` : INTERNAL_ERROR;
  return new Response(JSON.stringify({ status, error: message }), { status, headers: { "Content-Type": "application/json" } });
}
