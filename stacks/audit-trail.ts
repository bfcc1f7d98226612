// Who read or wrote which DICOM object: a CloudTrail trail that records S3 data events
// (object-level reads and writes) of the DICOM bucket, and nothing else, into a bucket of
// its own that outlives the stack. Management events are left to the account's own trail.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { AuditTrailSettings } from "./config";
import { createPrivateBucket } from "./storage";

export interface AuditTrailArgs {
  appName: string;
  region: string;
  accountId: pulumi.Input<string>;
  dicomBucketArn: pulumi.Input<string>;
  settings: AuditTrailSettings;
  /** Pulumi `protect` on the trail's bucket, as on the DICOM bucket. */
  protectData: boolean;
}

export interface AuditTrail {
  trailArn: pulumi.Output<string>;
  bucketName: pulumi.Output<string>;
}

export function createAuditTrail(args: AuditTrailArgs, opts: pulumi.CustomResourceOptions): AuditTrail | undefined {
  if (!args.settings.enabled) return undefined;
  const { appName } = args;
  const trailName = `${appName}-dicom-data-events`;
  const partition = aws.getPartitionOutput({}, { provider: opts.provider }).partition;
  // Known before the trail exists, so the bucket policy can name it (CloudTrail checks the policy when the trail is made).
  const trailArn = pulumi.interpolate`arn:${partition}:cloudtrail:${args.region}:${args.accountId}:trail/${trailName}`;

  const bucket = createPrivateBucket(
    `${appName}-audit-trail`,
    {
      bucketPrefix: `${appName}-audit-trail`,
      encryption: { kind: "SSE-S3" },
      retain: true,
      protect: args.protectData,
      expireObjectsAfterDays: args.settings.retentionDays,
      policyStatements: (arn) => [
        {
          Sid: "AllowCloudTrailAclCheck",
          Effect: "Allow",
          Principal: { Service: "cloudtrail.amazonaws.com" },
          Action: "s3:GetBucketAcl",
          Resource: arn,
          Condition: { StringEquals: { "aws:SourceArn": trailArn } },
        },
        {
          Sid: "AllowCloudTrailWrite",
          Effect: "Allow",
          Principal: { Service: "cloudtrail.amazonaws.com" },
          Action: "s3:PutObject",
          Resource: pulumi.interpolate`${arn}/AWSLogs/${args.accountId}/*`,
          Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trailArn } },
        },
      ],
    },
    opts,
  );

  const trail = new aws.cloudtrail.Trail(
    trailName,
    {
      name: trailName,
      s3BucketName: bucket.name,
      // The bucket is in the stack's region, and so are its data events.
      isMultiRegionTrail: false,
      includeGlobalServiceEvents: false,
      enableLogFileValidation: true,
      advancedEventSelectors: [
        {
          name: "Reads and writes of DICOM objects",
          fieldSelectors: [
            { field: "eventCategory", equals: ["Data"] },
            { field: "resources.type", equals: ["AWS::S3::Object"] },
            { field: "resources.ARN", startsWiths: [pulumi.interpolate`${args.dicomBucketArn}/`] },
          ],
        },
      ],
    },
    { ...opts, dependsOn: [bucket.policy] },
  );
  return { trailArn: trail.arn, bucketName: bucket.name };
}
