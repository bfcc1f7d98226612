// Who is told, and when: one SNS topic per stack (or an existing one), and a CloudWatch alarm
// for each way the service lets senders down. Every alarm notifies the topic when it fires and
// again when it clears. What each means and what to do is in stacks/README.md ("Alarms").
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { AlarmSettings } from "./config";
import { createCertificateExpiryCheck, type ServerCertificateSource } from "./certificate-expiry";
import { createLogMetrics, LOG_METRICS, type LogMetricName } from "./log-metrics";

export interface AlarmsArgs {
  appName: string;
  accountId: pulumi.Input<string>;
  settings: AlarmSettings;
  loadBalancerArn: pulumi.Input<string>;
  targetGroupArn: pulumi.Input<string>;
  clusterName: pulumi.Input<string>;
  serviceName: pulumi.Input<string>;
  appLogGroupName: pulumi.Input<string>;
  /** The app container's hard memory limit over the task's memory: AWS/ECS MemoryUtilization counts the whole task. */
  appMemoryShare: number;
  certificate: ServerCertificateSource;
  /** With events on: the dead-letter queue, where nothing should ever wait. */
  deadLetterQueueName?: pulumi.Input<string>;
}

export interface Alarms {
  topicArn: pulumi.Output<string>;
  /** Alarm names, in the order of stacks/README.md's table. */
  alarmNames: string[];
}

const MINUTE = 60;

/** The part of an ELB ARN that CloudWatch uses as its dimension (net/<name>/<id>, targetgroup/<name>/<id>). */
export function elbDimension(arn: string): string {
  const resource = arn.split(":").slice(5).join(":");
  return resource.startsWith("loadbalancer/") ? resource.slice("loadbalancer/".length) : resource;
}

export function createAlarms(args: AlarmsArgs, opts: pulumi.CustomResourceOptions): Alarms | undefined {
  const { appName, settings: s } = args;
  if (!s.enabled) return undefined;

  // Not encrypted: CloudWatch cannot publish to a topic under the AWS managed SNS key, and the
  // messages carry alarm names and numbers, never PHI.
  const topicArn = s.topicArn ? pulumi.output(s.topicArn) : new aws.sns.Topic(`${appName}-alarms`, { name: `${appName}-alarms` }, opts).arn;
  if (s.email) {
    new aws.sns.TopicSubscription(`${appName}-alarms-email`, { topic: topicArn, protocol: "email", endpoint: s.email }, opts);
  }

  const names: string[] = [];
  const alarm = (key: string, description: string, spec: Omit<aws.cloudwatch.MetricAlarmArgs, "name" | "alarmDescription" | "alarmActions" | "okActions">) => {
    const name = `${appName}-${key}`;
    names.push(name);
    return new aws.cloudwatch.MetricAlarm(
      name,
      { name, alarmDescription: `${description} See stacks/README.md, Alarms.`, alarmActions: [topicArn], okActions: [topicArn], ...spec },
      opts,
    );
  };
  const sustained = { period: MINUTE, evaluationPeriods: s.evaluationMinutes, datapointsToAlarm: s.evaluationMinutes };
  const service = { ClusterName: args.clusterName, ServiceName: args.serviceName };

  alarm("unhealthy-targets", "A task fails the load balancer's health check.", {
    namespace: "AWS/NetworkELB",
    metricName: "UnHealthyHostCount",
    dimensions: {
      LoadBalancer: pulumi.output(args.loadBalancerArn).apply(elbDimension),
      TargetGroup: pulumi.output(args.targetGroupArn).apply(elbDimension),
    },
    statistic: "Maximum",
    comparisonOperator: "GreaterThanThreshold",
    threshold: 0,
    treatMissingData: "notBreaching",
    ...sustained,
  });

  alarm("tasks-below-desired", "Fewer tasks run than the service wants (crash loop, failed placement or image pull).", {
    metricQueries: [
      { id: "running", metric: { namespace: "ECS/ContainerInsights", metricName: "RunningTaskCount", dimensions: service, stat: "Minimum", period: MINUTE } },
      { id: "desired", metric: { namespace: "ECS/ContainerInsights", metricName: "DesiredTaskCount", dimensions: service, stat: "Maximum", period: MINUTE } },
      { id: "missing", expression: "desired - running", label: "Tasks missing", returnData: true },
    ],
    comparisonOperator: "GreaterThanThreshold",
    threshold: 0,
    treatMissingData: "missing",
    evaluationPeriods: s.evaluationMinutes,
    datapointsToAlarm: s.evaluationMinutes,
  });

  alarm("cpu-high", `The tasks' average CPU stays above ${s.cpuPercent} % (autoscaling at its maximum, or a runaway).`, {
    namespace: "AWS/ECS",
    metricName: "CPUUtilization",
    dimensions: service,
    statistic: "Average",
    comparisonOperator: "GreaterThanThreshold",
    threshold: s.cpuPercent,
    treatMissingData: "missing",
    ...sustained,
  });

  // The app may use its hard limit's worth of the task; nginx's share counts too, so the alarm fires at or before the app reaches it.
  const memoryThreshold = Math.floor(s.memoryPercent * args.appMemoryShare * 10) / 10;
  alarm("memory-high", `A task's memory stays above ${memoryThreshold} % of the task, ${s.memoryPercent} % of the app container's hard limit (it is killed at the limit).`, {
    namespace: "AWS/ECS",
    metricName: "MemoryUtilization",
    dimensions: service,
    statistic: "Maximum",
    comparisonOperator: "GreaterThanThreshold",
    threshold: memoryThreshold,
    treatMissingData: "missing",
    ...sustained,
  });

  const logMetrics = createLogMetrics({ appName, appLogGroupName: args.appLogGroupName }, opts);
  const fromLogs = (key: string, metric: LogMetricName, perMinute: number, meaning: string) =>
    alarm(key, `${meaning} Counts ${LOG_METRICS[metric].counts}: more than ${perMinute * s.evaluationMinutes} in ${s.evaluationMinutes} minutes.`, {
      namespace: logMetrics.namespace,
      metricName: LOG_METRICS[metric].metricName,
      statistic: "Sum",
      period: s.evaluationMinutes * MINUTE,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanThreshold",
      threshold: perMinute * s.evaluationMinutes,
      // No matching log line is no failure.
      treatMissingData: "notBreaching",
    });
  fromLogs("refused-instances", "refusedInstances", s.refusedInstancesPerMinute, "Senders' instances are being refused.");
  fromLogs("capacity-rejections", "capacityRejections", s.capacityRejectionsPerMinute, "Senders are turned away at capacity (503).");
  fromLogs("s3-unavailable", "s3Unavailable", s.s3UnavailablePerMinute, "S3 did not take instances even after retries.");

  const expiry = createCertificateExpiryCheck({ appName, accountId: args.accountId, namespace: logMetrics.namespace, certificate: args.certificate }, opts);
  if (expiry) {
    const { source, ...metric } = expiry;
    alarm("certificate-expiry", `The server certificate expires in less than ${s.certificateDaysLeft} days (from ${source}).`, {
      ...metric,
      comparisonOperator: "LessThanThreshold",
      threshold: s.certificateDaysLeft,
      evaluationPeriods: 1,
      treatMissingData: "missing",
    });
  }

  if (args.deadLetterQueueName !== undefined) {
    alarm("events-dead-letters", "Instance events wait in the dead-letter queue: a consumer keeps failing on them, or EventBridge could not deliver.", {
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: args.deadLetterQueueName },
      statistic: "Maximum",
      period: 5 * MINUTE,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
      treatMissingData: "notBreaching",
    });
  }

  return { topicArn, alarmNames: names };
}
