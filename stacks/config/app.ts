// app: the service's own settings (key prefix, RetrieveURL base, log level, response delay,
// what to do with a taken key, and how slow a request body may arrive).
import { RESPONSE_DELAY_MAX_SECONDS } from "../../app/src/config-limits";
import { isPlaceholderHost } from "../placeholders";
import { defineBlock } from "./block";
import { NAMESPACE } from "./reader";

export type LogLevel = "ERROR" | "WARNING" | "INFO" | "DEBUG" | "CRITICAL";
const LOG_LEVELS: readonly LogLevel[] = ["ERROR", "WARNING", "INFO", "DEBUG", "CRITICAL"];

export interface AppSettings {
  /** Key prefix in the DICOM bucket, without leading or trailing "/". @default "" */
  prefix: string;
  /** Base of the RetrieveURLs in responses; empty: none. @default "" */
  wadoUrl: string;
  /** @default "INFO" */
  logLevel: LogLevel;
  /** Seconds, as the service's RESPONSEDELAY expects. @default 0 */
  responseDelay: number;
  /** DUPLICATE_POLICY: replace an instance whose key is taken, or refuse it (0x0111). @default "overwrite" (the app's own default) */
  duplicatePolicy: DuplicatePolicy;
  /** BODY_MIN_BYTES_PER_SECOND, to the app and nginx: bodies slower than this on average are cut off (408); 0 = no check. @default 1024 */
  bodyMinBytesPerSecond: number;
  /** BODY_RATE_WINDOW_SECONDS, to the app and nginx: the averaging window, and nginx's longest wait between two reads. @default 60 */
  bodyRateWindowSeconds: number;
}

export type DuplicatePolicy = "overwrite" | "reject";
const DUPLICATE_POLICIES: readonly DuplicatePolicy[] = ["overwrite", "reject"];

/** Same names, defaults and ranges as the app's BODY_* settings (app/src/config-limits.ts); the container contract test holds them together. */
export const BODY_MIN_BYTES_PER_SECOND_RANGE = { default: 1024, min: 0, max: 1024 * 1024 * 1024 } as const;
export const BODY_RATE_WINDOW_SECONDS_RANGE = { default: 60, min: 1, max: 3600 } as const;

const defaults = {
  app: {
    prefix: "",
    wadoUrl: "",
    logLevel: "INFO" as LogLevel,
    responseDelay: 0,
    duplicatePolicy: "overwrite" as DuplicatePolicy,
    bodyMinBytesPerSecond: BODY_MIN_BYTES_PER_SECOND_RANGE.default as number,
    bodyRateWindowSeconds: BODY_RATE_WINDOW_SECONDS_RANGE.default as number,
  },
};

export const appBlock = defineBlock({
  keys: ["app"],
  defaults,
  read(r): { app: AppSettings } {
    const key = "app";
    const d = defaults.app;
    const fields = r.object(key, r.raw(key), `{ prefix: dicom, logLevel: INFO }`) ?? {};
    r.unknownFields(key, fields, ["prefix", "wadoUrl", "logLevel", "responseDelay", "duplicatePolicy", "bodyMinBytesPerSecond", "bodyRateWindowSeconds"]);

    const rawPrefix = r.text(key, "prefix", fields.prefix, d.prefix);
    const prefix = rawPrefix.replace(/^\/+|\/+$/g, "");
    // The prefix ends up in IAM resource ARNs, where * and ? are wildcards.
    if (prefix.split("/").some((s) => s === "." || s === ".." || s === "") && prefix !== "") {
      r.report(key, `prefix "${rawPrefix}" must not contain empty, "." or ".." segments`);
    } else if (/[\\*?\x00-\x1f]/.test(prefix) || prefix.length > 512) {
      r.report(key, `prefix "${rawPrefix}" must be at most 512 characters without \\, *, ? or control characters`);
    }

    const wadoUrl = r.text(key, "wadoUrl", fields.wadoUrl, d.wadoUrl);
    if (wadoUrl !== "" && !isHttpUrl(wadoUrl)) r.report(key, `wadoUrl "${wadoUrl}" is not an http(s) URL`);

    const level = r.text(key, "logLevel", fields.logLevel, d.logLevel).toUpperCase();
    const logLevel = r.oneOf(key, level, LOG_LEVELS, d.logLevel, "logLevel");

    let responseDelay = d.responseDelay;
    if (fields.responseDelay !== undefined) {
      const n = typeof fields.responseDelay === "string" ? Number(fields.responseDelay) : fields.responseDelay;
      if (typeof n !== "number" || !Number.isFinite(n) || n < 0 || n > RESPONSE_DELAY_MAX_SECONDS) {
        r.report(key, `responseDelay must be seconds between 0 and ${RESPONSE_DELAY_MAX_SECONDS}, got ${JSON.stringify(fields.responseDelay)}`);
      } else responseDelay = n;
    }
    const duplicatePolicy = r.oneOf(key, r.text(key, "duplicatePolicy", fields.duplicatePolicy, d.duplicatePolicy), DUPLICATE_POLICIES, d.duplicatePolicy, "duplicatePolicy");
    const { min: rateMin, max: rateMax } = BODY_MIN_BYTES_PER_SECOND_RANGE;
    const bodyMinBytesPerSecond = r.integer(key, "bodyMinBytesPerSecond", fields.bodyMinBytesPerSecond, d.bodyMinBytesPerSecond, rateMin, rateMax);
    const { min: windowMin, max: windowMax } = BODY_RATE_WINDOW_SECONDS_RANGE;
    const bodyRateWindowSeconds = r.integer(key, "bodyRateWindowSeconds", fields.bodyRateWindowSeconds, d.bodyRateWindowSeconds, windowMin, windowMax);
    return { app: { prefix, wadoUrl, logLevel, responseDelay, duplicatePolicy, bodyMinBytesPerSecond, bodyRateWindowSeconds } };
  },
  placeholders({ app }) {
    if (app.wadoUrl === "" || !isPlaceholderHost(new URL(app.wadoUrl).hostname)) return [];
    return [
      {
        key: `${NAMESPACE}:app`,
        message: `wadoUrl ${app.wadoUrl} names an example or documentation host: responses would hand out RetrieveURLs nobody can follow`,
      },
    ];
  },
});

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}
