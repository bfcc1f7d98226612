// GET /health (the process is alive) and GET /ready (S3 is reachable, cached for a few seconds).
import { Hono } from "hono";
import type { ServiceContext } from "../service-context.js";
import { bucketReachable } from "../storage/bucket-reachable.js";

const READY_CACHE_MS = 3_000;

export function healthRoutes(svc: ServiceContext) {
  const routes = new Hono();
  let cached: { at: number; ok: boolean; error?: string } | undefined;
  let inFlight: Promise<{ at: number; ok: boolean; error?: string }> | undefined;

  const check = async () => ({ at: Date.now(), ...(await bucketReachable(svc.storage)) });

  routes.get("/health", (c) => c.json({ status: "ok" }));
  routes.get("/ready", async (c) => {
    if (svc.shuttingDown) return c.json({ status: "shutting down" }, 503);
    if (!cached || Date.now() - cached.at > READY_CACHE_MS) {
      inFlight ??= check().finally(() => (inFlight = undefined));
      cached = await inFlight;
    }
    return cached.ok ? c.json({ status: "ready", bucket: svc.storage.bucket }) : c.json({ status: "S3 unavailable", error: cached.error }, 503);
  });
  return routes;
}
