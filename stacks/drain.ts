// How a task stops without cutting uploads, from one setting (fargate.drainSeconds, D):
//
//   t = 0       ECS deregisters the task; the NLB sends it no new connections and keeps the
//               open ones for the deregistration delay, D.
//   t = D       ECS sends SIGTERM to the containers. nginx stops accepting and finishes the
//               requests it proxies; the app finishes its requests in flight. Both give up
//               after SHUTDOWN_TIMEOUT_SECONDS = D - CLEANUP_ALLOWANCE.
//   t = 2D - A  the last request still in flight is cut; the app flushes its log and exits
//               within its own cleanup allowance (5 s in app/src/server.ts).
//   t = 2D      stopTimeout: ECS sends SIGKILL to whatever still runs.
//
// So an upload under way when the stop begins has D + (D - A) seconds to finish: 110 s with the
// default D = 60, 230 s with the maximum D = 120 (Fargate allows stopTimeout up to 120 s).

/** Default and range of fargate.drainSeconds. */
export const DRAIN_SECONDS = { default: 60, min: 15, max: 120 } as const;

/** Room between the end of the graceful shutdown and SIGKILL: the app's own cleanup (5 s) and the log flush. */
export const CLEANUP_ALLOWANCE_SECONDS = 10;

export interface DrainTimings {
  /** Both containers' stopTimeout (SIGTERM to SIGKILL). */
  stopTimeoutSeconds: number;
  /** The NLB target group's deregistration delay. */
  deregistrationDelaySeconds: number;
  /** SHUTDOWN_TIMEOUT_SECONDS of the app and of nginx (worker_shutdown_timeout). */
  shutdownTimeoutSeconds: number;
  /** The longest an upload under way when the stop begins may still take. */
  uploadGraceSeconds: number;
}

export function drainTimings(drainSeconds: number): DrainTimings {
  if (!Number.isInteger(drainSeconds) || drainSeconds < DRAIN_SECONDS.min || drainSeconds > DRAIN_SECONDS.max) {
    throw new RangeError(`drainSeconds must be a whole number from ${DRAIN_SECONDS.min} to ${DRAIN_SECONDS.max}, got ${drainSeconds}`);
  }
  const shutdownTimeoutSeconds = drainSeconds - CLEANUP_ALLOWANCE_SECONDS;
  return {
    stopTimeoutSeconds: drainSeconds,
    deregistrationDelaySeconds: drainSeconds,
    shutdownTimeoutSeconds,
    uploadGraceSeconds: drainSeconds + shutdownTimeoutSeconds,
  };
}
