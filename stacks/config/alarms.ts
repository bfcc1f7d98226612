// alarms: who is told when the service is in trouble (one SNS topic, or an existing one) and
// the thresholds of the alarms in stacks/alarms.ts. What each alarm means and what to do:
// stacks/README.md, "Alarms".
import { isPlaceholderHost } from "../placeholders";
import type { LogLevel } from "./app";
import { defineBlock } from "./block";
import { NAMESPACE, type Fields, type Reader } from "./reader";

export interface AlarmSettings {
  /** Alarms, their topic and the log metric filters exist. @default true */
  enabled: boolean;
  /** An address subscribed to the stack's topic (it must confirm the subscription). @default none */
  email?: string;
  /** An existing standard SNS topic in the stack's region, notified instead of one the stack makes. @default none */
  topicArn?: string;
  /** Minutes a condition must last (per-minute alarms), and the window the log alarms' rates are summed over. @default 5 */
  evaluationMinutes: number;
  /** The service's average CPU, percent of the tasks' CPU. @default 85 */
  cpuPercent: number;
  /** The busiest task's memory, percent of the app container's hard limit. @default 90 */
  memoryPercent: number;
  /** Refused instances per minute, averaged over evaluationMinutes. @default 5 */
  refusedInstancesPerMinute: number;
  /** Capacity 503s per minute, averaged over evaluationMinutes. @default 10 */
  capacityRejectionsPerMinute: number;
  /** Requests that met an unavailable S3, per minute over evaluationMinutes (0: any at all). @default 0 */
  s3UnavailablePerMinute: number;
  /** Days before the server certificate expires. @default 30 */
  certificateDaysLeft: number;
}

const defaults = {
  alarms: {
    enabled: true,
    evaluationMinutes: 5,
    cpuPercent: 85,
    memoryPercent: 90,
    refusedInstancesPerMinute: 5,
    capacityRejectionsPerMinute: 10,
    s3UnavailablePerMinute: 0,
    certificateDaysLeft: 30,
  },
};

const FIELDS = ["enabled", "email", "topicArn", ...Object.keys(defaults.alarms).filter((f) => f !== "enabled")];
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256}(\.fifo)?)$/;
/** Levels that drop the INFO lines the log alarms count (app/src/routes/studies.ts). */
const TOO_QUIET: readonly LogLevel[] = ["WARNING", "ERROR", "CRITICAL"];

export const alarmsBlock = defineBlock({
  keys: ["alarms"],
  defaults,
  read(r, earlier: { region: string; app: { logLevel: LogLevel } }): { alarms: AlarmSettings } {
    const key = "alarms";
    const d = defaults.alarms;
    const fields = r.object(key, r.raw(key), `{ enabled: true, email: oncall@hospital.org }`) ?? {};
    r.unknownFields(key, fields, FIELDS);
    const enabled = booleanField(r, key, fields, "enabled", d.enabled);
    const number = (field: keyof typeof d, min: number, max: number) => r.integer(key, field, fields[field], d[field] as number, min, max);
    const alarms: AlarmSettings = {
      enabled,
      evaluationMinutes: number("evaluationMinutes", 1, 60),
      cpuPercent: number("cpuPercent", 1, 100),
      memoryPercent: number("memoryPercent", 1, 100),
      refusedInstancesPerMinute: number("refusedInstancesPerMinute", 0, 100_000),
      capacityRejectionsPerMinute: number("capacityRejectionsPerMinute", 0, 100_000),
      s3UnavailablePerMinute: number("s3UnavailablePerMinute", 0, 100_000),
      certificateDaysLeft: number("certificateDaysLeft", 1, 365),
    };
    if (fields.email !== undefined) {
      const email = r.text(key, "email", fields.email, "");
      if (!EMAIL.test(email)) r.report(key, `email "${email}" is not an email address`);
      else alarms.email = email;
    }
    if (fields.topicArn !== undefined) {
      const arn = r.text(key, "topicArn", fields.topicArn, "");
      const m = TOPIC_ARN.exec(arn);
      if (!m) r.report(key, `topicArn "${arn}" is not an SNS topic ARN`);
      else if (m[4]) r.report(key, `topicArn ${arn} is a FIFO topic; CloudWatch alarms notify standard topics only`);
      else if (earlier.region !== "" && m[1] !== earlier.region) {
        r.report(key, `topicArn is in ${m[1]} but the stack deploys to ${earlier.region}; alarms notify a topic of their own region`);
      } else alarms.topicArn = arn;
      if (fields.email !== undefined) {
        r.report(key, "email subscribes to the topic the stack makes; with topicArn, subscribe the address to that topic yourself and drop email");
      }
    }
    if (enabled && TOO_QUIET.includes(earlier.app.logLevel)) {
      r.report(
        key,
        `the refused-instances, capacity-rejections and s3-unavailable alarms count the app's INFO lines, which ${NAMESPACE}:app logLevel ` +
          `${earlier.app.logLevel} drops: set app.logLevel INFO (or DEBUG), or alarms.enabled false`,
      );
    }
    return { alarms };
  },
  placeholders({ alarms }) {
    const host = alarms.email?.split("@")[1];
    if (!alarms.enabled || host === undefined || !isPlaceholderHost(host)) return [];
    return [{ key: `${NAMESPACE}:alarms`, message: `email ${alarms.email} is at an example domain: nobody would hear an alarm; name the on-call address` }];
  },
});

/** A true/false field of an object key: YAML gives a boolean, `pulumi config set --path` a string. */
export function booleanField(r: Reader, key: string, fields: Fields, field: string, fallback: boolean): boolean {
  const raw = fields[field];
  if (raw === undefined) return fallback;
  if (raw === true || raw === "true") return true;
  if (raw === false || raw === "false") return false;
  r.report(key, `${field} must be true or false, got ${JSON.stringify(raw)}`);
  return fallback;
}
