import { Hono } from "hono";
import type { ServiceContext } from "../service-context.js";

export function metricsRoutes(svc: ServiceContext) {
  const routes = new Hono();
  routes.get("/metrics", async (c) => {
    c.header("Content-Type", svc.metrics.registry.contentType);
    return c.body(await svc.metrics.registry.metrics());
  });
  return routes;
}
