// Days until the server certificate expires, as a metric an alarm can watch.
//
// ACM mode: ACM publishes DaysToExpiry (AWS/CertificateManager) for the listener's certificate
// once a day.
//
// FROMS3 with source stack: the stack knows the certificate it wrote (generated or from
// config), so it knows its notAfter; nginx cannot publish it and the app never sees it. An
// EventBridge Scheduler schedule calls CloudWatch's PutMetricData every hour with that notAfter
// (seconds since the epoch; no Lambda: a universal target calls the API directly), and the
// alarm computes days left with metric math: (notAfter - EPOCH(notAfter)) / 86400, EPOCH being
// the time of each data point. A renewed certificate changes the schedule's input with it.
//
// FROMS3 with source external: the files live in the operator's bucket and the stack never
// reads them, so there is nothing to watch (stacks/README.md says so).
import { X509Certificate } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { serviceTrustPolicy } from "./service-trust";

export type ServerCertificateSource =
  | { kind: "acm"; arn: string }
  | { kind: "pem"; pem: pulumi.Input<string> }
  | { kind: "external" };

export const NOT_AFTER_METRIC = "ServerCertificateNotAfter";
/** How often the schedule publishes notAfter; the alarm looks at one-day periods, so each has data. */
export const PUBLISH_RATE = "rate(1 hour)";
const DAY_SECONDS = 86_400;

export interface CertificateExpiryArgs {
  appName: string;
  accountId: pulumi.Input<string>;
  /** Namespace of the deployment's own metrics (log-metrics.ts). */
  namespace: string;
  certificate: ServerCertificateSource;
}

/** What the expiry alarm watches: one metric, or metric math whose result is days left. */
export type ExpiryAlarmMetric = Pick<
  aws.cloudwatch.MetricAlarmArgs,
  "namespace" | "metricName" | "dimensions" | "statistic" | "period" | "metricQueries"
> & { source: string };

/** notAfter of the first certificate in a PEM chain, in seconds since the epoch. */
export function notAfterSeconds(pem: string): number {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!first) throw new Error("the server certificate holds no PEM certificate");
  return Math.floor(Date.parse(new X509Certificate(first).validTo) / 1000);
}

/** The PutMetricData request the schedule sends (CloudWatch API parameter names). */
export function notAfterMetricData(namespace: string, notAfter: number): Record<string, unknown> {
  return { Namespace: namespace, MetricData: [{ MetricName: NOT_AFTER_METRIC, Value: notAfter, Unit: "Seconds" }] };
}

export function createCertificateExpiryCheck(args: CertificateExpiryArgs, opts: pulumi.CustomResourceOptions): ExpiryAlarmMetric | undefined {
  const c = args.certificate;
  if (c.kind === "external") return undefined;
  if (c.kind === "acm") {
    return {
      source: "ACM's DaysToExpiry",
      namespace: "AWS/CertificateManager",
      metricName: "DaysToExpiry",
      dimensions: { CertificateArn: c.arn },
      statistic: "Minimum",
      period: DAY_SECONDS,
    };
  }

  const { appName } = args;
  const partition = aws.getPartitionOutput({}, { provider: opts.provider }).partition;
  const role = new aws.iam.Role(
    `${appName}-certificate-check`,
    {
      description: `${appName}: EventBridge Scheduler publishes the server certificate's notAfter`,
      assumeRolePolicy: pulumi.jsonStringify(serviceTrustPolicy("scheduler.amazonaws.com", args.accountId)),
    },
    opts,
  );
  const policy = new aws.iam.RolePolicy(
    `${appName}-certificate-check`,
    {
      role: role.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "PublishNotAfter",
            Effect: "Allow",
            // PutMetricData has no resource ARN; the condition keeps it to the deployment's namespace.
            Action: "cloudwatch:PutMetricData",
            Resource: "*",
            Condition: { StringEquals: { "cloudwatch:namespace": args.namespace } },
          },
        ],
      }),
    },
    opts,
  );
  new aws.scheduler.Schedule(
    `${appName}-certificate-expiry`,
    {
      name: `${appName}-certificate-expiry`,
      description: `${appName}: the server certificate's notAfter, for the certificate expiry alarm`,
      scheduleExpression: PUBLISH_RATE,
      flexibleTimeWindow: { mode: "OFF" },
      target: {
        arn: pulumi.interpolate`arn:${partition}:scheduler:::aws-sdk:cloudwatch:putMetricData`,
        roleArn: role.arn,
        input: pulumi.output(c.pem).apply((pem) => JSON.stringify(notAfterMetricData(args.namespace, notAfterSeconds(pem)))),
      },
    },
    { ...opts, dependsOn: [policy] },
  );
  return {
    source: "the notAfter the stack's schedule publishes",
    metricQueries: [
      {
        id: "notafter",
        metric: { namespace: args.namespace, metricName: NOT_AFTER_METRIC, stat: "Maximum", period: DAY_SECONDS },
        returnData: false,
      },
      {
        id: "daysleft",
        // IF drops the periods without a data point, so a missing check reads as missing data, not as 0 days.
        expression: "IF(notafter, (notafter - EPOCH(notafter)) / 86400)",
        label: "Days until the server certificate expires",
        returnData: true,
      },
    ],
  };
}
