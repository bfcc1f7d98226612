import { Hono } from "hono";
import { errorResponse } from "./routes/error-response.js";
import { healthRoutes } from "./routes/health.js";
import { metricsRoutes } from "./routes/metrics.js";
import { studiesRoutes } from "./routes/studies.js";
import { studiesMethodRoutes } from "./routes/studies-methods.js";
import type { ServiceContext } from "./service-context.js";

export function createApp(svc: ServiceContext) {
  const app = new Hono();
  app.route("/", studiesRoutes(svc));
  app.route("/", studiesMethodRoutes());
  app.route("/", healthRoutes(svc));
  app.route("/", metricsRoutes(svc));
  app.notFound((c) => errorResponse(c, 404, `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    svc.log.error({ err: { name: err.name, message: err.message, stack: err.stack }, path: c.req.path }, "unhandled error");
    return errorResponse(c, 500, "internal error; see the service log");
  });
  return app;
}
