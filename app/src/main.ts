// Entry point: `npm start`, the container's command, and the test harness's child process.
import { ConfigError, loadConfig, type Config } from "./config.js";
import { createLogSink, type LogSink } from "./log-sink.js";
import { createLogger } from "./logger.js";
import { SHUTDOWN_ALLOWANCE_MS, startService, type RunningService } from "./server.js";

/** How long the last log lines may take to reach stdout's reader before the process exits anyway. */
const FINAL_FLUSH_MS = 1_000;

async function main() {
  const config = loadConfig();
  const base = { service: "stowrs-to-s3" };
  const sink = createLogSink(process.stdout, { base });
  const log = createLogger(config.logLevel, sink);

  // Taken before start-up, so that a signal during it stops the service once it is up (or ends the process in bounded time).
  let starting: Promise<RunningService> | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, "signal received again: already shutting down");
      return;
    }
    stopping = true;
    log.info({ signal }, "signal received");
    // Whatever hangs below, the process ends within the allowance, its last lines' flush included:
    // not unref'd, so it also holds the process until then.
    setTimeout(() => {
      log.error({ allowanceMs: config.shutdownTimeoutMs + SHUTDOWN_ALLOWANCE_MS }, "shutdown did not finish in time; exiting");
      void exit(sink, 1);
    }, config.shutdownTimeoutMs + SHUTDOWN_ALLOWANCE_MS - FINAL_FLUSH_MS);
    (starting ?? Promise.reject(new Error("not started")))
      .then((service) => service.shutdown())
      .then(
        () => exit(sink, 0, log),
        (err) => {
          log.error({ err: String(err) }, "shutdown failed");
          return exit(sink, 1, log);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  log.info({ pid: process.pid, host: config.host, port: config.port }, "starting");
  starting = startService(config, log, { logLinesDropped: sink.dropped });
  const service = await starting;
  if (stopping) return;
  announce(service, config, log);
}

/** The last line (with what was dropped), flushed within its deadline, then exit. */
async function exit(sink: LogSink, code: number, log?: ReturnType<typeof createLogger>): Promise<never> {
  log?.child({}, { level: "info" }).info({ code, logLinesDropped: sink.dropped() }, "exiting");
  await sink.flush(FINAL_FLUSH_MS);
  process.exit(code);
}

function announce(service: RunningService, config: Config, log: ReturnType<typeof createLogger>) {
  const loopback = /^(127\.|\[::1\]|localhost)/.test(service.address);
  const where = loopback ? "this machine only; set HOST=0.0.0.0 to listen on every address" : "every address: reachable from other machines";
  if (service.embeddedStore) {
    process.stderr.write(
      `\nSTOW-RS service: ${service.url}/studies (listening on ${service.address}, ${where})\n` +
        `Bucket "${service.bucket}" in the embedded S3-compatible store at ${service.embeddedStore.endpoint}\n` +
        `Objects land under ${service.embeddedStore.dir}/${service.bucket}/\n\n`,
    );
  }
  // Last: harnesses and supervisors take this line to mean the service is fully up,
  // so it is written whatever LOGLEVEL says.
  log.child({}, { level: "info" }).info(
    {
      url: service.url,
      address: service.address,
      metricsUrl: service.metricsUrl,
      bucket: service.bucket,
      prefix: config.prefix,
      s3: service.embeddedStore
        ? `embedded store ${service.embeddedStore.endpoint}, data in ${service.embeddedStore.dir}`
        : service.context.storage.amazonS3
          ? "AWS S3"
          : config.s3Endpoint,
      upload: config.upload,
      bodyRate: config.bodyRate,
      auth: config.oidc
        ? { bearerTokens: { issuer: config.oidc.issuer, audience: config.oidc.audience, requiredScope: config.oidc.requiredScope, algorithms: config.oidc.algorithms } }
        : "no bearer tokens",
    },
    "listening",
  );
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`stowrs-to-s3: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`stowrs-to-s3: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
