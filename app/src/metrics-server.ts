// GET /metrics on a listener of its own (METRICS_PORT on METRICS_HOST): with bearer tokens on,
// the STOW port does not serve it, so it is never open to whoever can send studies.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { errorResponse } from "./routes/error-response.js";
import { metricsRoutes } from "./routes/metrics.js";
import type { ServiceContext } from "./service-context.js";

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(svc: ServiceContext, listen: { port: number; host: string }): Promise<MetricsServer> {
  const app = new Hono();
  app.route("/", metricsRoutes(svc));
  app.notFound((c) => errorResponse(c, 404, "only GET /metrics is served on this port"));
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: listen.port, hostname: listen.host }, () => resolve(s as Server)) as Server;
    s.once("error", reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
