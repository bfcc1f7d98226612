// Service configuration from the environment, validated in one pass.
// Names and defaults stay compatible with the Python service this replaces.
import {
  BODY_MIN_BYTES_PER_SECOND,
  BODY_RATE_WINDOW_SECONDS,
  MAX_INSTANCES_IN_FLIGHT,
  RESPONSE_DELAY_MAX_SECONDS,
  UPLOAD_INSTANCE_CONCURRENCY,
  UPLOAD_PART_CONCURRENCY,
  UPLOAD_PART_SIZE_MIB,
  type IntegerSetting,
} from "./config-limits.js";
import { readOidcSettings, type OidcSettings } from "./auth/settings.js";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug";
export type DuplicatePolicy = "overwrite" | "reject";
export type ConditionalWritesSetting = "auto" | "on" | "off";

export interface Config {
  port: number;
  host: string;
  /** Unset means: start the embedded S3-compatible store (local use only). */
  bucket: string | undefined;
  s3Endpoint: string | undefined;
  s3ForcePathStyle: boolean;
  /** Whether to rely on If-None-Match on PutObject instead of a HEAD before each new instance. */
  s3ConditionalWrites: ConditionalWritesSetting;
  region: string;
  prefix: string;
  wadoUrl: string | undefined;
  logLevel: LogLevel;
  responseDelayMs: number;
  upload: {
    partSizeBytes: number;
    partConcurrency: number;
    instanceConcurrency: number;
  };
  duplicatePolicy: DuplicatePolicy;
  maxRequestBytes: number;
  maxInstanceBytes: number;
  maxInstancesInFlight: number;
  /** A body arriving slower than this (while the service waits for it), averaged over the window, is cut off with 408; 0: never. */
  bodyRate: { minBytesPerSecond: number; windowMs: number };
  s3MaxAttempts: number;
  s3RequestTimeoutMs: number;
  shutdownTimeoutMs: number;
  dataDir: string;
  /** Bearer tokens are required (OIDC_ISSUER set); undefined: no token is asked for. */
  oidc: OidcSettings | undefined;
  /** GET /metrics on a listener of its own; undefined: on the main port. */
  metrics: { port: number; host: string } | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** Where /metrics goes when bearer tokens are on and METRICS_PORT is unset (Prometheus exporters' range). */
export const DEFAULT_METRICS_PORT = 9464;
/** S3 allows at most 10,000 parts in one multipart upload. */
export const S3_MAX_PARTS = 10_000;

const LOG_LEVELS: Record<string, LogLevel> = {
  CRITICAL: "fatal",
  ERROR: "error",
  WARNING: "warn",
  WARN: "warn",
  INFO: "info",
  DEBUG: "debug",
};

type Env = Record<string, string | undefined>;

const setting = (s: IntegerSetting): [string, number, number, number] => [s.env, s.default, s.min, s.max];

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };

  const int = (name: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = read(name);
    if (raw === undefined) return dflt;
    if (!/^\d+$/.test(raw)) {
      problems.push(`${name}: expected a whole number, got "${raw}"`);
      return dflt;
    }
    const n = Number(raw);
    if (n < min || n > max) {
      problems.push(`${name}: must be between ${min} and ${max}, got ${raw}`);
      return dflt;
    }
    return n;
  };

  const bool = (name: string, dflt: boolean): boolean => {
    const raw = read(name);
    if (raw === undefined) return dflt;
    const v = raw.toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off"].includes(v)) return false;
    problems.push(`${name}: expected true or false, got "${raw}"`);
    return dflt;
  };

  /** One of a few words, case-insensitive. */
  const oneOf = <T extends string>(name: string, values: readonly T[], dflt: T): T => {
    const raw = (read(name) ?? dflt).toLowerCase();
    const value = values.find((v) => v === raw);
    if (value !== undefined) return value;
    problems.push(`${name}: expected ${values.slice(0, -1).join(", ")} or ${values.at(-1)}, got "${raw}"`);
    return dflt;
  };

  const url = (name: string): string | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("protocol");
      return raw;
    } catch {
      problems.push(`${name}: expected an http(s) URL, got "${raw}"`);
      return undefined;
    }
  };

  const port = int("PORT", 8080, 0, 65535);
  // Loopback unless told otherwise: `npm start` on a laptop must not be a write endpoint for its
  // whole network. The image sets HOST=0.0.0.0 itself (app/Dockerfile).
  const host = read("HOST") ?? "127.0.0.1";

  const bucket = read("S3_BUCKET") ?? read("BUCKETNAME");
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    problems.push(`S3_BUCKET: "${bucket}" is not a valid S3 bucket name`);
  }
  const s3Endpoint = url("S3_ENDPOINT");
  const s3ForcePathStyle = bool("S3_FORCE_PATH_STYLE", false);
  const s3ConditionalWrites = oneOf<ConditionalWritesSetting>("S3_CONDITIONAL_WRITES", ["auto", "on", "off"], "auto");
  const region = read("AWS_REGION") ?? read("AWS_DEFAULT_REGION") ?? "us-east-1";

  const rawPrefix = read("PREFIX") ?? "";
  const prefix = rawPrefix.replace(/^\/+|\/+$/g, "");
  if (prefix.split("/").some((seg) => seg === "." || seg === "..") || /[\\\x00-\x1f]/.test(prefix)) {
    problems.push(`PREFIX: "${rawPrefix}" must not contain ".", ".." segments, backslashes or control characters`);
  }

  const wadoUrl = url("WADOURL")?.replace(/\/+$/, "");

  const rawLevel = read("LOGLEVEL") ?? "INFO";
  const logLevel = LOG_LEVELS[rawLevel.toUpperCase()];
  if (!logLevel) problems.push(`LOGLEVEL: expected one of ERROR, WARNING, INFO, DEBUG, CRITICAL, got "${rawLevel}"`);

  let responseDelayMs = 0;
  const rawDelay = read("RESPONSEDELAY");
  if (rawDelay !== undefined) {
    const s = Number(rawDelay);
    if (!/^\d+(\.\d+)?$/.test(rawDelay) || !(s <= RESPONSE_DELAY_MAX_SECONDS)) {
      problems.push(`RESPONSEDELAY: expected seconds between 0 and ${RESPONSE_DELAY_MAX_SECONDS}, got "${rawDelay}"`);
    } else responseDelayMs = Math.round(s * 1000);
  }

  const partSizeMiB = int(...setting(UPLOAD_PART_SIZE_MIB));
  const partConcurrency = int(...setting(UPLOAD_PART_CONCURRENCY));
  const instanceConcurrency = int(...setting(UPLOAD_INSTANCE_CONCURRENCY));

  const duplicatePolicy = oneOf<DuplicatePolicy>("DUPLICATE_POLICY", ["overwrite", "reject"], "overwrite");

  const maxRequestBytes = int("MAX_REQUEST_BYTES", 50 * GIB, 1);
  const maxInstanceBytes = int("MAX_INSTANCE_BYTES", 10 * GIB, 1);
  const partSizeBytes = partSizeMiB * MIB;
  if (maxInstanceBytes > partSizeBytes * S3_MAX_PARTS) {
    problems.push(
      `MAX_INSTANCE_BYTES: ${maxInstanceBytes} cannot be uploaded in ${S3_MAX_PARTS} parts of UPLOAD_PART_SIZE_MIB=${partSizeMiB}; ` +
        `raise UPLOAD_PART_SIZE_MIB or lower MAX_INSTANCE_BYTES (at most ${partSizeBytes * S3_MAX_PARTS})`,
    );
  }
  const maxInstancesInFlight = int(...setting(MAX_INSTANCES_IN_FLIGHT));
  const bodyRate = { minBytesPerSecond: int(...setting(BODY_MIN_BYTES_PER_SECOND)), windowMs: int(...setting(BODY_RATE_WINDOW_SECONDS)) * 1000 };
  const s3MaxAttempts = int("S3_MAX_ATTEMPTS", 4, 1, 20);
  const s3RequestTimeoutMs = int("S3_REQUEST_TIMEOUT_SECONDS", 60, 1, 3600) * 1000;
  const shutdownTimeoutMs = int("SHUTDOWN_TIMEOUT_SECONDS", 30, 0, 3600) * 1000;
  const dataDir = read("DATA_DIR") ?? ".data";

  const oidc = readOidcSettings(env, { text: read, int, problem: (m) => problems.push(m) });
  // With bearer tokens on, /metrics must not be open to whoever can reach the STOW port.
  const metricsPortSet = read("METRICS_PORT") !== undefined;
  const metricsPort = int("METRICS_PORT", DEFAULT_METRICS_PORT, 0, 65535);
  const metricsHost = read("METRICS_HOST") ?? "127.0.0.1";
  if (read("METRICS_HOST") !== undefined && !metricsPortSet && !oidc) {
    problems.push("METRICS_HOST: set, but /metrics is on the main port; set METRICS_PORT too for a listener of its own");
  }
  const metrics = metricsPortSet || oidc ? { port: metricsPort, host: metricsHost } : undefined;
  if (metrics && metrics.port !== 0 && metrics.port === port) {
    problems.push(`METRICS_PORT: ${metrics.port} is PORT too; give /metrics a port of its own`);
  }

  if (problems.length) throw new ConfigError(problems);
  return {
    port,
    host,
    bucket,
    s3Endpoint,
    s3ForcePathStyle,
    s3ConditionalWrites,
    region,
    prefix,
    wadoUrl,
    logLevel: logLevel!,
    responseDelayMs,
    upload: { partSizeBytes, partConcurrency, instanceConcurrency },
    duplicatePolicy,
    maxRequestBytes,
    maxInstanceBytes,
    maxInstancesInFlight,
    bodyRate,
    s3MaxAttempts,
    s3RequestTimeoutMs,
    shutdownTimeoutMs,
    dataDir,
    oidc,
    metrics,
  };
}
