// Entry point: `npm start`, the container's command, and the test harness's child process.
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startService } from "./server.js";

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`stowrs-to-s3: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const service = await startService(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "signal received");
    service.shutdown().then(
      () => process.exit(0),
      (err) => {
        log.error({ err: String(err) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  if (service.embeddedStore) {
    process.stderr.write(
      `\nSTOW-RS service: ${service.url}/studies\n` +
        `Bucket "${service.bucket}" in the embedded S3-compatible store at ${service.embeddedStore.endpoint}\n` +
        `Objects land under ${service.embeddedStore.dir}/${service.bucket}/\n\n`,
    );
  }
  // Last: harnesses and supervisors take this line to mean the service is fully up,
  // so it is written whatever LOGLEVEL says.
  log.child({}, { level: "info" }).info(
    {
      url: service.url,
      metricsUrl: service.metricsUrl,
      bucket: service.bucket,
      prefix: config.prefix,
      s3: service.embeddedStore
        ? `embedded store ${service.embeddedStore.endpoint}, data in ${service.embeddedStore.dir}`
        : service.context.storage.amazonS3
          ? "AWS S3"
          : config.s3Endpoint,
      upload: config.upload,
      auth: config.oidc
        ? { bearerTokens: { issuer: config.oidc.issuer, audience: config.oidc.audience, requiredScope: config.oidc.requiredScope, algorithms: config.oidc.algorithms } }
        : "no bearer tokens",
    },
    "listening",
  );
}

main().catch((err) => {
  process.stderr.write(`stowrs-to-s3: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
