import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { bearerGuard } from "./auth/bearer-guard.js";
import { errorResponse, faultHandler } from "./routes/error-response.js";
import { healthRoutes } from "./routes/health.js";
import { metricsRoutes } from "./routes/metrics.js";
import { studiesRoutes } from "./routes/studies.js";
import { studiesMethodRoutes } from "./routes/studies-methods.js";
import type { ServiceContext } from "./service-context.js";

export function createApp(svc: ServiceContext) {
  const app = new Hono();
  // Honours a client's (or the front's) X-Request-Id of word characters, "-" and "=", else makes
  // one; echoed in every answer, the bearer guard's refusals included, and named in the log lines.
  app.use(requestId({ limitLength: 128 }));
  // Open whatever the auth mode: container and load balancer health checks carry no token.
  app.route("/", healthRoutes(svc));
  // With a listener of its own (METRICS_PORT, or bearer tokens on), /metrics is not served here.
  if (svc.config.metrics) app.get("/metrics", (c) => errorResponse(c, 404, "GET /metrics is not served on this port"));
  else app.route("/", metricsRoutes(svc));
  // Default deny: everything registered after the guard needs a token when OIDC_ISSUER is set,
  // the 405 and OPTIONS answers on /studies and unknown paths included. The guard reads no body
  // and takes no admission slot, so a refused request holds no capacity and stores nothing.
  if (svc.tokens) app.use("*", bearerGuard(svc, svc.tokens, svc.config.oidc!.requiredScope));
  app.route("/", studiesRoutes(svc));
  // After the POST routes, so it only sees the other methods.
  app.route("/", studiesMethodRoutes());
  app.notFound((c) => errorResponse(c, 404, `no route for ${c.req.method} ${c.req.path}`));
  app.onError(faultHandler(svc));
  return app;
}
