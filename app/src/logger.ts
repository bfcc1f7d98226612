import pino, { type Logger } from "pino";
import type { LogLevel } from "./config.js";

/** JSON lines on stdout. Callers log UIDs, keys, sizes and timings only: never patient attributes. */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "stowrs-to-s3" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
