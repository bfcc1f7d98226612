// GET /health (the process is alive) and GET /ready (S3 is reachable, cached for a few seconds).
// Both are open to whoever reaches the port: they say ready or not, and nothing about the
// bucket (its name, S3's error text); that goes to the log.
import { Hono } from "hono";
import type { ServiceContext } from "../service-context.js";
import { bucketReachable } from "../storage/bucket-reachable.js";

const READY_CACHE_MS = 3_000;

export function healthRoutes(svc: ServiceContext) {
  const routes = new Hono();
  let cached: { at: number; ok: boolean; error?: string } | undefined;
  let inFlight: Promise<{ at: number; ok: boolean; error?: string }> | undefined;

  const check = async () => {
    const result = { at: Date.now(), ...(await bucketReachable(svc.storage, svc.config.prefix)) };
    // Logged when it changes, not at every probe of a load balancer.
    const error = result.ok ? undefined : result.error;
    if (result.ok && cached && !cached.ok) svc.log.info({ bucket: svc.storage.bucket }, "ready: the bucket answers again");
    if (error !== undefined && error !== cached?.error) svc.log.warn({ bucket: svc.storage.bucket, error }, "not ready: the bucket does not answer");
    return result;
  };

  routes.get("/health", (c) => c.json({ status: "ok" }));
  routes.get("/ready", async (c) => {
    if (svc.shuttingDown) return c.json({ status: "shutting down" }, 503);
    if (!cached || Date.now() - cached.at > READY_CACHE_MS) {
      inFlight ??= check().finally(() => (inFlight = undefined));
      cached = await inFlight;
    }
    return cached.ok ? c.json({ status: "ready" }) : c.json({ status: "not ready" }, 503);
  });
  return routes;
}
