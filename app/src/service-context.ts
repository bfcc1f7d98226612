import type { Logger } from "pino";
import type { BearerAuth } from "./auth/bearer-auth.js";
import type { Config } from "./config.js";
import type { Metrics } from "./metrics.js";
import type { S3Target } from "./storage/s3-target.js";
import type { Semaphore } from "./util/semaphore.js";

/** The process's shared parts, built once by server.ts: what the routes and the store transaction use. */
export interface ServiceContext {
  /** As in effect: with the embedded store, its bucket and endpoint. */
  config: Config;
  log: Logger;
  metrics: Metrics;
  storage: S3Target;
  /** Process-wide instances in flight (MAX_INSTANCES_IN_FLIGHT). */
  instanceSlots: Semaphore;
  /** Checks bearer tokens; undefined when OIDC_ISSUER is unset. */
  tokens?: BearerAuth;
  shuttingDown: boolean;
  activeRequests: number;
}
