// Events for what comes next: every instance stored in the DICOM bucket becomes a message in
// an SQS queue (S3 -> EventBridge -> rule -> queue), so a consumer (an inference pipeline, a
// forwarder to the PACS) starts when a study arrives instead of listing the bucket. What the
// rule lets through is a pure function (instanceStoredPattern), tested against S3's events.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { EventSettings } from "./config";

/** SQS's longest retention: what the consumer never managed to handle waits this long to be looked at. */
export const DEAD_LETTER_RETENTION_SECONDS = 1_209_600;
/** Long polling: a consumer's ReceiveMessage waits up to this long for a message instead of spinning. */
export const RECEIVE_WAIT_SECONDS = 20;

export interface EventsArgs {
  appName: string;
  dicomBucket: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** The app's PREFIX ("" for none): objects under it are instances. */
  prefix: string;
  settings: EventSettings;
}

export interface DicomEvents {
  queueUrl: pulumi.Output<string>;
  queueArn: pulumi.Output<string>;
  queueName: pulumi.Output<string>;
  deadLetterQueueUrl: pulumi.Output<string>;
  deadLetterQueueName: pulumi.Output<string>;
  ruleArn: pulumi.Output<string>;
}

/**
 * The rule's event pattern: S3's "Object Created" events of this bucket whose key is an
 * instance the service wrote ({prefix}/{study}/{series}/{sop}.dcm, app/src/storage/object-key.ts).
 * EventBridge cannot put prefix and suffix on one field, so under a prefix the key is matched
 * with a wildcard; the prefix cannot hold "*" or "\" (the app config refuses them).
 */
export function instanceStoredPattern(bucketName: string, prefix: string): Record<string, unknown> {
  if (/[*\\]/.test(prefix)) throw new Error(`prefix "${prefix}" holds * or \\, which an event pattern cannot match literally here`);
  return {
    source: ["aws.s3"],
    "detail-type": ["Object Created"],
    detail: {
      bucket: { name: [bucketName] },
      object: { key: [prefix === "" ? { suffix: ".dcm" } : { wildcard: `${prefix}/*.dcm` }] },
    },
  };
}

export function createDicomEvents(args: EventsArgs, opts: pulumi.CustomResourceOptions): DicomEvents | undefined {
  if (!args.settings.enabled) return undefined;
  const { appName, settings } = args;

  // Replaces the bucket's whole notification configuration; nothing else in the stack sets one.
  new aws.s3.BucketNotification(`${appName}-dicom-events`, { bucket: args.dicomBucket.name, eventbridge: true }, opts);

  // SSE-SQS: EventBridge can deliver to it without a key policy (an AWS managed KMS key would refuse it).
  const deadLetters = new aws.sqs.Queue(
    `${appName}-instances-dlq`,
    {
      name: `${appName}-instances-dlq`,
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
    },
    opts,
  );
  const queue = new aws.sqs.Queue(
    `${appName}-instances`,
    {
      name: `${appName}-instances`,
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: settings.retentionSeconds,
      receiveWaitTimeSeconds: RECEIVE_WAIT_SECONDS,
      redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: deadLetters.arn, maxReceiveCount: settings.maxReceiveCount }),
    },
    opts,
  );
  new aws.sqs.RedriveAllowPolicy(
    `${appName}-instances-dlq`,
    {
      queueUrl: deadLetters.url,
      redriveAllowPolicy: pulumi.jsonStringify({ redrivePermission: "byQueue", sourceQueueArns: [queue.arn] }),
    },
    opts,
  );

  const rule = new aws.cloudwatch.EventRule(
    `${appName}-instance-stored`,
    {
      name: `${appName}-instance-stored`,
      description: `${appName}: a DICOM instance was stored under ${args.prefix === "" ? "the bucket's root" : `${args.prefix}/`}`,
      eventPattern: pulumi.output(args.dicomBucket.name).apply((name) => JSON.stringify(instanceStoredPattern(name, args.prefix))),
    },
    opts,
  );

  // Only this rule may send, over TLS; the dead-letter queue also takes what EventBridge could not deliver.
  const queuePolicy = (label: string, target: aws.sqs.Queue) =>
    new aws.sqs.QueuePolicy(
      `${appName}-${label}`,
      {
        queueUrl: target.url,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "AllowTheInstanceStoredRule",
              Effect: "Allow",
              Principal: { Service: "events.amazonaws.com" },
              Action: "sqs:SendMessage",
              Resource: target.arn,
              Condition: { ArnEquals: { "aws:SourceArn": rule.arn } },
            },
            {
              Sid: "DenyInsecureTransport",
              Effect: "Deny",
              Principal: "*",
              Action: "sqs:*",
              Resource: target.arn,
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
          ],
        }),
      },
      opts,
    );
  const policies = [queuePolicy("instances", queue), queuePolicy("instances-dlq", deadLetters)];

  new aws.cloudwatch.EventTarget(
    `${appName}-instance-stored`,
    {
      rule: rule.name,
      arn: queue.arn,
      // Events EventBridge could not deliver (queue policy broken, queue gone) are kept, not dropped.
      deadLetterConfig: { arn: deadLetters.arn },
      retryPolicy: { maximumEventAgeInSeconds: 86_400, maximumRetryAttempts: 185 },
    },
    { ...opts, dependsOn: policies },
  );

  return {
    queueUrl: queue.url,
    queueArn: queue.arn,
    queueName: queue.name,
    deadLetterQueueUrl: deadLetters.url,
    deadLetterQueueName: deadLetters.name,
    ruleArn: rule.arn,
  };
}
