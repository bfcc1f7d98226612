// How much of the task's memory the app container gets, and what its uploads can hold at
// worst. The stack refuses settings whose worst case does not fit, instead of letting the
// kernel kill the app in the middle of a study.
import { MAX_INSTANCES_IN_FLIGHT, uploadBufferMiB } from "../app/src/config-limits";

/** Hard limit of the nginx container: nginx, plus Node for the seconds nginx/render runs at start. */
export const NGINX_MEMORY_MIB = 256;
/**
 * The app process without uploads: Node, the AWS SDK, pino and prom-client. README
 * ("Reliability", "Benchmarks") measures 77-85 MiB idle and 140-145 MiB RSS after load;
 * the budget takes the higher figure with some room.
 */
export const APP_BASELINE_MIB = 160;

export interface UploadMemory {
  partSizeMiB: number;
  partConcurrency: number;
}

/** The app container's hard memory limit inside a task of `taskMemoryMiB`. */
export function appMemoryMiB(taskMemoryMiB: number): number {
  return taskMemoryMiB - NGINX_MEMORY_MIB;
}

/** Worst case: every admitted instance holding its full upload buffer at once. */
export function worstCaseMiB(upload: UploadMemory, maxInstancesInFlight: number): number {
  return maxInstancesInFlight * uploadBufferMiB(upload.partSizeMiB, upload.partConcurrency) + APP_BASELINE_MIB;
}

/** The largest MAX_INSTANCES_IN_FLIGHT whose worst case fits (0 when not even one does), capped at the app's default. */
export function largestInFlight(upload: UploadMemory, taskMemoryMiB: number): number {
  const room = appMemoryMiB(taskMemoryMiB) - APP_BASELINE_MIB;
  const fits = Math.floor(room / uploadBufferMiB(upload.partSizeMiB, upload.partConcurrency));
  return Math.max(0, Math.min(fits, MAX_INSTANCES_IN_FLIGHT.default));
}
