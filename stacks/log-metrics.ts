// Metrics from the app's JSON log lines (app/src/logger.ts: pino, one object per line, the
// message in "msg"), through CloudWatch Logs metric filters on the app's log group. Each
// pattern names fields the app writes; log-metrics.test.ts runs the real service and holds
// the patterns against the lines it prints.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

export interface LogMetric {
  metricName: string;
  /** CloudWatch Logs filter pattern for JSON events. */
  pattern: string;
  /** What one matching line adds: a number, or a numeric field of the line. */
  value: string;
  /** What the metric counts, for the alarm's description. */
  counts: string;
}

export const LOG_METRICS = {
  // routes/studies.ts logs "store request" once per request with the number of instances (and
  // other parts) that were not stored.
  refusedInstances: {
    metricName: "RefusedInstances",
    pattern: '{ $.msg = "store request" && $.failed > 0 }',
    value: "$.failed",
    counts: "instances (and unreadable parts) the service refused to store",
  },
  // The 503 of admission control; a 503 while shutting down is another message.
  capacityRejections: {
    metricName: "CapacityRejections",
    pattern: '{ $.msg = "request rejected" && $.status = 503 && $.error = "the service is at capacity*" }',
    value: "1",
    counts: "requests answered 503 because every MAX_INSTANCES_IN_FLIGHT slot was taken",
  },
  // s3Unavailable is set on the "store request" line when an instance failed because S3 did not
  // answer, throttled or failed on its side after the SDK's retries (storage/storage-failure.ts).
  s3Unavailable: {
    metricName: "S3UnavailableRequests",
    pattern: '{ $.msg = "store request" && $.s3Unavailable IS TRUE }',
    value: "1",
    counts: "requests in which S3 was unavailable for an instance",
  },
} as const satisfies Record<string, LogMetric>;

export type LogMetricName = keyof typeof LOG_METRICS;

/** One namespace per deployment: metric filters cannot add a fixed dimension, and two stacks may share an account. */
export function metricNamespace(appName: string): string {
  return `stowrs-to-s3/${appName}`;
}

export interface LogMetricsArgs {
  appName: string;
  appLogGroupName: pulumi.Input<string>;
}

export interface LogMetrics {
  namespace: string;
  filters: Record<LogMetricName, aws.cloudwatch.LogMetricFilter>;
}

export function createLogMetrics(args: LogMetricsArgs, opts: pulumi.CustomResourceOptions): LogMetrics {
  const namespace = metricNamespace(args.appName);
  const filters = Object.fromEntries(
    Object.entries(LOG_METRICS).map(([key, m]) => [
      key,
      new aws.cloudwatch.LogMetricFilter(
        `${args.appName}-${kebab(m.metricName)}`,
        {
          name: `${args.appName}-${kebab(m.metricName)}`,
          logGroupName: args.appLogGroupName,
          pattern: m.pattern,
          metricTransformation: { namespace, name: m.metricName, value: m.value, unit: "Count" },
        },
        opts,
      ),
    ]),
  ) as Record<LogMetricName, aws.cloudwatch.LogMetricFilter>;
  return { namespace, filters };
}

/** RefusedInstances -> refused-instances, as the stack's other resource names. */
function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}
