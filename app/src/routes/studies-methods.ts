// Every method but POST on /studies and /studies/{StudyInstanceUID}: this service stores and serves
// nothing back (no WADO-RS, no QIDO-RS), so the path exists and the method does not. RFC 9110
// 15.5.6: 405 with Allow; OPTIONS answers with Allow alone. HEAD is routed as GET by Hono and gets
// the same 405 without a body. No CORS headers: browsers are not among the senders this serves.
import { Hono } from "hono";
import { errorResponse } from "./error-response.js";

export const STUDIES_ALLOW = "POST, OPTIONS";

export function studiesMethodRoutes() {
  const routes = new Hono();
  for (const path of ["/studies", "/studies/:study"]) {
    routes.options(path, (c) => {
      c.header("Allow", STUDIES_ALLOW);
      return c.body(null, 204);
    });
    // Registered after the POST route (app.ts), so it only sees the other methods.
    routes.all(path, (c) => {
      c.header("Allow", STUDIES_ALLOW);
      return errorResponse(c, 405, `${c.req.method} is not supported on ${c.req.path}; this service only stores instances (POST, STOW-RS)`);
    });
  }
  return routes;
}
