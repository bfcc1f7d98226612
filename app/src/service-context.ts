import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { Metrics } from "./metrics.js";
import type { StoreDeps } from "./stow/store-instances.js";
import type { Semaphore } from "./util/semaphore.js";

/** What the routes share: configuration, S3, metrics, limits and lifecycle state. */
export interface ServiceContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  storeDeps: StoreDeps;
  instanceSlots: Semaphore;
  shuttingDown: boolean;
  activeRequests: number;
}
