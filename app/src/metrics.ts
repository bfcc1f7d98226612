// Prometheus metrics (GET /metrics). One registry per service instance, so tests can run several.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface MetricsOptions {
  /** Log lines dropped so far because stdout was not read (log-sink.ts). */
  logLinesDropped?: () => number;
}

export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "stowrs_" });
  const m = {
    registry,
    requests: new Counter({ name: "stowrs_requests_total", help: "STOW-RS requests by HTTP status", labelNames: ["status"], registers: [registry] }),
    instances: new Counter({
      name: "stowrs_instances_total",
      help: "Instances by outcome (stored, failed) and failure reason (decimal, empty when stored)",
      labelNames: ["outcome", "reason"],
      registers: [registry],
    }),
    bytesReceived: new Counter({ name: "stowrs_bytes_received_total", help: "Request body bytes read", registers: [registry] }),
    bytesStored: new Counter({ name: "stowrs_bytes_stored_total", help: "Instance bytes acknowledged by S3", registers: [registry] }),
    s3Requests: new Histogram({
      name: "stowrs_s3_request_duration_seconds",
      help: "S3 request latency by operation (UploadPart, PutObject, ...), including SDK retries",
      labelNames: ["operation", "outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    uploadsInFlight: new Gauge({ name: "stowrs_uploads_in_flight", help: "Instance uploads in progress", registers: [registry] }),
    uploadAborts: new Counter({ name: "stowrs_upload_aborts_total", help: "Multipart uploads aborted", registers: [registry] }),
    overwrites: new Counter({
      name: "stowrs_overwrites_total",
      help: "Instances stored over an object with different bytes at their key (DUPLICATE_POLICY=overwrite); each is logged at WARN with the sender",
      registers: [registry],
    }),
    overloadRejections: new Counter({ name: "stowrs_overload_rejections_total", help: "Requests answered 503 because the service was at capacity", registers: [registry] }),
    logLinesDropped: new Counter({
      name: "stowrs_log_lines_dropped_total",
      help: "Log lines dropped because stdout was not being read (its backlog was full)",
      registers: [registry],
      collect() {
        if (!options.logLinesDropped) return;
        this.reset();
        this.inc(options.logLinesDropped());
      },
    }),
    authRefusals: new Counter({
      name: "stowrs_auth_refusals_total",
      help: "Requests refused for their bearer token, by HTTP status (401, 403, 503) and reason",
      labelNames: ["status", "reason"],
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
