// Buckets. Every bucket the stack makes has the same posture: encrypted by default,
// versioned, owner-enforced, no public access, TLS-only, incomplete multipart uploads
// cleaned up. The DICOM bucket and its access logs outlive the stack: destroying the
// deployment must never destroy the images it received.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { BucketEncryption } from "./config";
import { dicomKeyPolicy, objectAccessStatements } from "./dicom-access";
import type { LifecycleSettings, ObjectLockSettings } from "./config";
import { createObjectLock, dicomLifecycleRules } from "./data-lifecycle";

export type EncryptionSpec = { kind: "SSE-KMS"; keyArn: pulumi.Input<string> } | { kind: "SSE-S3" };

export interface PrivateBucketArgs {
  /** Physical name prefix; the provider appends a unique suffix. */
  bucketPrefix: string;
  encryption: EncryptionSpec;
  /** Keep the bucket, its objects and its settings when the stack is destroyed. */
  retain: boolean;
  /** Pulumi `protect`: no update or destroy may delete the bucket until this is turned off. */
  protect?: boolean;
  accessLogs?: { bucket: pulumi.Input<string>; prefix: string };
  /** Statements added to the bucket policy after the TLS-only denial. */
  policyStatements?: (bucketArn: pulumi.Output<string>) => pulumi.Input<Record<string, unknown>>[];
  expireObjectsAfterDays?: number;
  /** Days before S3 aborts an unfinished multipart upload and drops its parts. @default 7 */
  abortIncompleteUploadDays?: number;
  /** Lifecycle rules after the bucket's own (one lifecycle configuration per bucket holds them all). */
  lifecycleRules?: aws.types.input.s3.BucketLifecycleConfigurationRule[];
}

export interface PrivateBucket {
  bucket: aws.s3.Bucket;
  /** Bucket name (the provider's id). */
  name: pulumi.Output<string>;
  arn: pulumi.Output<string>;
  /** Settings others must wait for: Object Lock needs versioning on, CloudTrail its bucket policy. */
  versioning: aws.s3.BucketVersioning;
  policy: aws.s3.BucketPolicy;
  /**
   * The settings that must apply before anything is written into the bucket: ownership,
   * public access block, default encryption, versioning and the bucket policy. Each is its
   * own resource that needs only the bucket's name, so without waiting for them an object
   * could land before its default encryption or policy exists.
   */
  posture: pulumi.Resource[];
}

export function createPrivateBucket(
  name: string,
  args: PrivateBucketArgs,
  opts: pulumi.CustomResourceOptions,
): PrivateBucket {
  // Retaining only the bucket would let `pulumi destroy` strip its public access block
  // and encryption while leaving the data behind, so the settings are retained with it.
  const keep: pulumi.CustomResourceOptions = { ...opts, retainOnDelete: args.retain };
  const bucket = new aws.s3.Bucket(
    name,
    { bucketPrefix: args.bucketPrefix, forceDestroy: !args.retain },
    { ...keep, protect: args.protect === true },
  );

  const ownership = new aws.s3.BucketOwnershipControls(
    `${name}-ownership`,
    { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
    keep,
  );
  const publicAccess = new aws.s3.BucketPublicAccessBlock(
    `${name}-public-access`,
    {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    },
    keep,
  );
  const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
    `${name}-encryption`,
    {
      bucket: bucket.id,
      rules: [
        args.encryption.kind === "SSE-KMS"
          ? {
              applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: args.encryption.keyArn },
              // One data key per bucket instead of per object keeps KMS cost flat under load.
              bucketKeyEnabled: true,
            }
          : { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
      ],
    },
    keep,
  );
  const versioning = new aws.s3.BucketVersioning(
    `${name}-versioning`,
    { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
    keep,
  );
  new aws.s3.BucketLifecycleConfiguration(
    `${name}-lifecycle`,
    {
      bucket: bucket.id,
      rules: [
        {
          id: "abort-incomplete-multipart-uploads",
          status: "Enabled",
          filter: {},
          abortIncompleteMultipartUpload: { daysAfterInitiation: args.abortIncompleteUploadDays ?? 7 },
        },
        ...(args.expireObjectsAfterDays
          ? [
              {
                id: "expire-objects",
                status: "Enabled",
                filter: {},
                expiration: { days: args.expireObjectsAfterDays },
                noncurrentVersionExpiration: { noncurrentDays: args.expireObjectsAfterDays },
              },
            ]
          : []),
        ...(args.lifecycleRules ?? []),
      ],
    },
    keep,
  );
  if (args.accessLogs) {
    new aws.s3.BucketLogging(
      `${name}-access-logs`,
      { bucket: bucket.id, targetBucket: args.accessLogs.bucket, targetPrefix: args.accessLogs.prefix },
      keep,
    );
  }
  const extra = args.policyStatements?.(bucket.arn) ?? [];
  const policy = new aws.s3.BucketPolicy(
    `${name}-policy`,
    {
      bucket: bucket.id,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
          ...extra,
        ],
      }),
    },
    // A policy put before the public access block could briefly be evaluated without it.
    { ...keep, dependsOn: [publicAccess, ownership] },
  );
  return { bucket, name: bucket.id, arn: bucket.arn, versioning, policy, posture: [ownership, publicAccess, encryption, versioning, policy] };
}

export interface StorageArgs {
  appName: string;
  accountId: pulumi.Input<string>;
  dicomBucketPrefix: string;
  encryption: BucketEncryption;
  accessLogRetentionDays: number;
  /** Pulumi `protect` on the DICOM bucket, its key and the access-log bucket. */
  protectData: boolean;
  /** Who may read the DICOM objects, and who administers their key (dicom-access.ts). */
  access: {
    partition: pulumi.Input<string>;
    region: string;
    /** The identity that runs `pulumi up`: the key's administrator. */
    deployRoleArn: pulumi.Input<string>;
    taskRoleArn: pulumi.Input<string>;
    /** dataReaders: principals besides the task role that may read and delete DICOM objects. */
    dataReaders: string[];
    /** Keys of the smoke samples, the only objects the deploying identity may read (HEAD and tags). */
    smokeObjectKeys: string[];
  };
  /** Storage class transitions, noncurrent-version expiry and upload cleanup of the DICOM bucket. */
  lifecycle?: LifecycleSettings;
  /** S3 Object Lock (governance mode) with a default retention on the DICOM bucket. */
  objectLock?: ObjectLockSettings;
}

export interface Storage {
  dicom: PrivateBucket;
  accessLogs: PrivateBucket;
  /** Set when the DICOM bucket uses SSE-KMS. */
  kmsKeyArn?: pulumi.Output<string>;
  encryption: EncryptionSpec;
}

export function createStorage(args: StorageArgs, opts: pulumi.CustomResourceOptions): Storage {
  const { appName } = args;
  let encryption: EncryptionSpec = { kind: "SSE-S3" };
  let kmsKeyArn: pulumi.Output<string> | undefined;
  if (args.encryption === "SSE-KMS") {
    // Deleting the key would make the retained objects unreadable; it stays with them.
    const key = new aws.kms.Key(
      `${appName}-dicom`,
      {
        description: `Encrypts the DICOM objects of ${appName}`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        policy: pulumi
          .all([args.access.partition, args.accountId, args.access.deployRoleArn, args.access.taskRoleArn])
          .apply(([partition, accountId, deployRoleArn, taskRoleArn]) =>
            JSON.stringify(
              dicomKeyPolicy({ partition, accountId, region: args.access.region, deployRoleArn, taskRoleArn, dataReaders: args.access.dataReaders }),
            ),
          ),
      },
      { ...opts, retainOnDelete: true, protect: args.protectData },
    );
    new aws.kms.Alias(`${appName}-dicom`, { name: `alias/${appName}-dicom`, targetKeyId: key.keyId }, opts);
    kmsKeyArn = key.arn;
    encryption = { kind: "SSE-KMS", keyArn: key.arn };
  }

  // S3 server access logs can only be delivered to an SSE-S3 bucket.
  const accessLogs = createPrivateBucket(
    `${appName}-access-logs`,
    {
      bucketPrefix: `${appName}-access-logs`,
      encryption: { kind: "SSE-S3" },
      retain: true,
      protect: args.protectData,
      expireObjectsAfterDays: args.accessLogRetentionDays,
      policyStatements: (arn) => [
        {
          Sid: "AllowS3ServerAccessLogs",
          Effect: "Allow",
          Principal: { Service: "logging.s3.amazonaws.com" },
          Action: "s3:PutObject",
          Resource: pulumi.interpolate`${arn}/*`,
          Condition: { StringEquals: { "aws:SourceAccount": args.accountId } },
        },
      ],
    },
    opts,
  );

  const dicom = createPrivateBucket(
    `${appName}-dicom`,
    {
      bucketPrefix: args.dicomBucketPrefix,
      encryption,
      retain: true,
      protect: args.protectData,
      accessLogs: { bucket: accessLogs.name, prefix: "dicom/" },
      policyStatements: (arn) => {
        const { taskRoleArn, deployRoleArn, dataReaders, smokeObjectKeys } = args.access;
        const statements = pulumi
          .all([arn, taskRoleArn, deployRoleArn])
          .apply(([bucket, task, deploy]) => objectAccessStatements(bucket, task, dataReaders, { roleArn: deploy, smokeObjectKeys }));
        // One entry per statement: the bucket policy lists them after its TLS-only denial.
        return [0, 1, 2].map((i) => statements.apply((list) => list[i]));
      },
      abortIncompleteUploadDays: args.lifecycle?.abortIncompleteUploadDays,
      lifecycleRules: args.lifecycle ? dicomLifecycleRules(args.lifecycle) : undefined,
    },
    opts,
  );
  if (args.objectLock?.enabled) createObjectLock(`${appName}-dicom`, dicom, args.objectLock, opts);
  return { dicom, accessLogs, kmsKeyArn, encryption };
}
