// How long logs are kept: container and flow logs in CloudWatch, S3 server access logs.
import { defineBlock } from "./block";
import type { Reader } from "./reader";

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const defaults = {
  /** @default 30 */
  logRetentionDays: 30,
  /** @default 365 */
  accessLogRetentionDays: 365,
};

export const logsBlock = defineBlock({
  keys: ["logRetentionDays", "accessLogRetentionDays"],
  defaults,
  read(r): {
    /** CloudWatch retention of container logs and VPC flow logs (one of LOG_RETENTION_DAYS). @default 30 */
    logRetentionDays: number;
    /** Expiry of S3 server access logs, whole days 1 to 3653. @default 365 */
    accessLogRetentionDays: number;
  } {
    return {
      logRetentionDays: retention(r, "logRetentionDays", defaults.logRetentionDays, LOG_RETENTION_DAYS),
      accessLogRetentionDays: retention(r, "accessLogRetentionDays", defaults.accessLogRetentionDays),
    };
  },
});

function retention(r: Reader, key: string, fallback: number, allowed?: number[]): number {
  const raw = r.raw(key);
  if (raw === undefined) return fallback;
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 3653 || (allowed && !allowed.includes(n))) {
    r.report(key, allowed ? `must be one of CloudWatch's retention periods (${allowed.join(", ")}), got "${raw}"` : `must be whole days from 1 to 3653, got "${raw}"`);
    return fallback;
  }
  return n;
}
