import type { StorageFailure } from "./storage-failure.js";

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
]);

const UNAVAILABLE_NAMES = new Set([
  "SlowDown",
  "ServiceUnavailable",
  "InternalError",
  "RequestTimeout",
  "RequestTimeoutException",
  "Throttling",
  "ThrottlingException",
  "TooManyRequests",
  "TooManyRequestsException",
  "TimeoutError",
  "NetworkingError",
]);

interface ErrorLike {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
  errors?: unknown[];
}

/** Whether an S3 error means the store is unavailable or throttling (as opposed to refusing this request). */
export function isS3Unavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 4) return false;
  const e = err as ErrorLike;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (e.code && UNAVAILABLE_CODES.has(e.code)) return true;
  if (e.name && UNAVAILABLE_NAMES.has(e.name)) return true;
  if (e.$retryable) return true;
  if (/socket hang up|connect ECONNREFUSED|read ECONNRESET|timed? ?out/i.test(e.message ?? "")) return true;
  if (e.errors?.some((inner) => isS3Unavailable(inner, depth + 1))) return true;
  return isS3Unavailable(e.cause, depth + 1);
}

/** Whether an S3 error says there is no object at the key. */
export function isNotFound(err: unknown): boolean {
  const e = err as ErrorLike | undefined;
  return e?.$metadata?.httpStatusCode === 404 || e?.name === "NotFound" || e?.name === "NoSuchKey";
}

/** Why an upload that S3 did not acknowledge failed. */
export function s3FailureOf(err: unknown): Extract<StorageFailure, "s3-unavailable" | "s3-error"> {
  return isS3Unavailable(err) ? "s3-unavailable" : "s3-error";
}

/** A short, PHI-free description for logs and the Warning header. */
export function describeS3Error(err: unknown): string {
  if (!err || typeof err !== "object") return String(err);
  const e = err as ErrorLike;
  const status = e.$metadata?.httpStatusCode;
  return [e.name ?? "Error", e.code, status ? `HTTP ${status}` : undefined, e.message].filter(Boolean).join(": ").slice(0, 300);
}
