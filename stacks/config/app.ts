// app: the service's own settings (key prefix, RetrieveURL base, log level, response delay).
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
}

const defaults = {
  app: { prefix: "", wadoUrl: "", logLevel: "INFO" as LogLevel, responseDelay: 0 },
};

export const appBlock = defineBlock({
  keys: ["app"],
  defaults,
  read(r): { app: AppSettings } {
    const key = "app";
    const d = defaults.app;
    const fields = r.object(key, r.raw(key), `{ prefix: dicom, logLevel: INFO }`) ?? {};
    r.unknownFields(key, fields, ["prefix", "wadoUrl", "logLevel", "responseDelay"]);

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
    return { app: { prefix, wadoUrl, logLevel, responseDelay } };
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
