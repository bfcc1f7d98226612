import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Errors outside the Store Instances Response are small JSON objects, never HTML. */
export function errorResponse(c: Context, status: ContentfulStatusCode, message: string) {
  return c.json({ status, error: message }, status);
}
