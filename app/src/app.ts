import { Hono } from "hono";
import { bearerGuard } from "./auth/bearer-guard.js";
import { errorResponse } from "./routes/error-response.js";
import { healthRoutes } from "./routes/health.js";
import { metricsRoutes } from "./routes/metrics.js";
import { studiesRoutes } from "./routes/studies.js";
import type { ServiceContext } from "./service-context.js";

export function createApp(svc: ServiceContext) {
  const app = new Hono();
  // Open whatever the auth mode: container and load balancer health checks carry no token.
  app.route("/", healthRoutes(svc));
  // With a listener of its own (METRICS_PORT, or bearer tokens on), /metrics is not served here.
  if (svc.config.metrics) app.get("/metrics", (c) => errorResponse(c, 404, "GET /metrics is not served on this port"));
  else app.route("/", metricsRoutes(svc));
  // Everything registered after the guard needs a token when OIDC_ISSUER is set.
  if (svc.tokens) app.use("*", bearerGuard(svc, svc.tokens, svc.config.oidc!.requiredScope));
  app.route("/", studiesRoutes(svc));
  app.notFound((c) => errorResponse(c, 404, `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    svc.log.error({ err: { name: err.name, message: err.message, stack: err.stack }, path: c.req.path }, "unhandled error");
    return errorResponse(c, 500, "internal error; see the service log");
  });
  return app;
}
