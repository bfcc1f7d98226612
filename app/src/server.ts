// Wires configuration, S3, the Hono app and the HTTP server together, and shuts them down cleanly.
import { join, resolve } from "node:path";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener, serve } from "@hono/node-server";
import type { Logger } from "pino";
import { createApp } from "./app.js";
import { startBearerAuth } from "./auth/bearer-auth.js";
import type { Config } from "./config.js";
import type { EmbeddedStore } from "./embedded-s3/embedded-store.js";
import { createMetrics, type MetricsOptions } from "./metrics.js";
import { requestErrorResponse } from "./routes/error-response.js";
import { startMetricsServer, type MetricsServer } from "./metrics-server.js";
import type { ServiceContext } from "./service-context.js";
import { createS3Target } from "./storage/s3-target.js";
import { Semaphore } from "./util/semaphore.js";

const EMBEDDED_BUCKET = "dicom";
/** A connection with no traffic in either direction for this long is closed (stalled clients). */
const SOCKET_IDLE_TIMEOUT_MS = 5 * 60_000;
/** How long start-up waits for the conditional-writes probe before listening anyway. */
const CONDITIONAL_WRITES_PROBE_WAIT_MS = 2_000;
/** After the shutdown timeout, how long requests that were cut off may take to abort their uploads. */
const SHUTDOWN_CLEANUP_MS = 5_000;
/**
 * The process ends at most this long after SHUTDOWN_TIMEOUT_SECONDS, whatever hangs (main.ts):
 * the cleanup above, the embedded store's stop (3 s at most), the last log lines (1 s at most).
 */
export const SHUTDOWN_ALLOWANCE_MS = SHUTDOWN_CLEANUP_MS + 5_000;

export interface RunningService {
  /** Where a client on this machine reaches the service (loopback when it listens on every address). */
  url: string;
  /** The address and port really bound, e.g. 127.0.0.1:8080, or 0.0.0.0:8080 (every IPv4 address). */
  address: string;
  /** Where GET /metrics is served when not on `url` (METRICS_PORT, or bearer tokens on). */
  metricsUrl?: string;
  bucket: string;
  embeddedStore?: EmbeddedStore;
  context: ServiceContext;
  /** Stop accepting, let requests in flight finish up to SHUTDOWN_TIMEOUT_SECONDS, then close. */
  shutdown(): Promise<void>;
}

export async function startService(config: Config, log: Logger, options: MetricsOptions = {}): Promise<RunningService> {
  let embeddedStore: EmbeddedStore | undefined;
  let effective = config;
  let credentials;
  if (!config.bucket) {
    // Local use without an AWS account: an S3-compatible store on loopback, data under DATA_DIR.
    // Loaded only then: the image does not ship it (s3rver is a development dependency).
    const { startEmbeddedStore, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY } = await import("./embedded-s3/embedded-store.js");
    embeddedStore = await startEmbeddedStore({ dir: resolve(join(config.dataDir, "s3")), bucket: EMBEDDED_BUCKET });
    effective = { ...config, bucket: EMBEDDED_BUCKET, s3Endpoint: embeddedStore.endpoint, s3ForcePathStyle: true };
    credentials = { accessKeyId: EMBEDDED_ACCESS_KEY, secretAccessKey: EMBEDDED_SECRET_KEY };
  }
  const metrics = createMetrics(options);
  // Every S3 call (each UploadPart, PutObject, ...) is timed for the latency histogram.
  const storage = createS3Target(effective, effective.bucket!, { credentials, log, latency: metrics.s3Requests });
  // Ask the store before taking requests, so that the first ones already take the path the store
  // allows; but a slow or unreachable store must not hold up start-up (uploads use HEADs until it answers).
  await Promise.race([storage.conditionalWrites.probe(), new Promise((r) => setTimeout(r, CONDITIONAL_WRITES_PROBE_WAIT_MS).unref())]);
  const context: ServiceContext = {
    config: effective,
    log,
    metrics,
    storage,
    instanceSlots: new Semaphore(config.maxInstancesInFlight),
    tokens: config.oidc ? startBearerAuth(config.oidc, log) : undefined,
    shuttingDown: false,
    activeRequests: 0,
  };
  const app = createApp(context);

  const server = await new Promise<Server>((resolveServer, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: config.port,
        hostname: config.host,
        // serve() builds its request listener without an error handler, so the adapter's own
        // refusals (a backslash in the path, an unusable Host) would be bodiless: build it with one.
        createServer: ((options: Parameters<typeof createServer>[0]) =>
          createServer(options, getRequestListener(app.fetch, { hostname: config.host, errorHandler: requestErrorResponse }))) as typeof createServer,
        serverOptions: {
          // Node's default 5-minute request timeout would cut off multi-GiB uploads.
          requestTimeout: 0,
          // Slow headers (slowloris) are still cut off.
          headersTimeout: 30_000,
          keepAliveTimeout: 65_000,
        },
      },
      () => resolveServer(s as Server),
    ) as Server;
    s.once("error", reject);
  });
  server.setTimeout(SOCKET_IDLE_TIMEOUT_MS);
  let metricsServer: MetricsServer | undefined;
  try {
    if (config.metrics) metricsServer = await startMetricsServer(context, config.metrics);
  } catch (err) {
    server.close();
    context.tokens?.close();
    throw err;
  }
  const bound = server.address() as AddressInfo;
  const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host === "[::]" ? "[::1]" : host}:${bound.port}`;

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = () =>
    (shutdownPromise ??= (async () => {
      context.shuttingDown = true;
      log.info({ activeRequests: context.activeRequests }, "shutting down: no new connections, finishing requests in flight");
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const deadline = Date.now() + config.shutdownTimeoutMs;
      while (context.activeRequests > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (context.activeRequests > 0) log.warn({ activeRequests: context.activeRequests }, "shutdown timeout: closing requests still in flight");
      server.closeAllConnections();
      // Requests just cut off abort their multipart uploads; let those reach S3 before the client goes.
      const cleanupDeadline = Date.now() + SHUTDOWN_CLEANUP_MS;
      while (context.activeRequests > 0 && Date.now() < cleanupDeadline) await new Promise((r) => setTimeout(r, 50));
      await closed;
      await metricsServer?.close();
      context.tokens?.close();
      storage.client.destroy();
      if (embeddedStore) await embeddedStore.stop();
    })());

  return { url, address: `${host}:${bound.port}`, metricsUrl: metricsServer?.url, bucket: effective.bucket!, embeddedStore, context, shutdown };
}
