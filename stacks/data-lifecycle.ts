// What happens to DICOM objects over time: a cheaper storage class after some days, old
// versions (an overwritten or deleted instance) kept for a while and then expired, unfinished
// uploads cleaned up, and optionally S3 Object Lock so that no version can be destroyed
// before its retention ends. The rules are a pure function of the settings; the lock is a
// resource of its own beside the bucket.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { LifecycleSettings, ObjectLockSettings } from "./config";
import type { PrivateBucket } from "./storage";

type Rule = aws.types.input.s3.BucketLifecycleConfigurationRule;

/** The DICOM bucket's rules besides the abort of incomplete uploads (which every private bucket has). */
export function dicomLifecycleRules(settings: LifecycleSettings): Rule[] {
  const rules: Rule[] = [];
  if (settings.storageClass !== "STANDARD") {
    rules.push({
      id: "transition-current-versions",
      status: "Enabled",
      filter: {},
      transitions: [{ days: settings.transitionDays, storageClass: settings.storageClass }],
    });
  }
  if (settings.noncurrentVersionExpirationDays > 0) {
    rules.push({
      id: "expire-noncurrent-versions",
      status: "Enabled",
      filter: {},
      noncurrentVersionExpiration: { noncurrentDays: settings.noncurrentVersionExpirationDays },
      // Once the versions behind it are gone, a delete marker is only clutter.
      expiration: { expiredObjectDeleteMarker: true },
    });
  }
  return rules;
}

/**
 * Object Lock in governance mode: a version cannot be overwritten in place or deleted for
 * `retentionDays` (a new version and delete markers still can be written, so the service
 * works as before), except by a principal with s3:BypassGovernanceRetention. Set through the
 * lock configuration, which S3 accepts on a new and on an existing versioned bucket, so turning
 * it on never replaces the bucket (objectLockEnabled on the bucket itself would).
 */
export function createObjectLock(
  name: string,
  bucket: Pick<PrivateBucket, "name" | "versioning">,
  settings: ObjectLockSettings,
  opts: pulumi.CustomResourceOptions,
): aws.s3.BucketObjectLockConfiguration {
  return new aws.s3.BucketObjectLockConfiguration(
    `${name}-object-lock`,
    {
      bucket: bucket.name,
      objectLockEnabled: "Enabled",
      rule: { defaultRetention: { mode: "GOVERNANCE", days: settings.retentionDays } },
    },
    // Kept with the bucket it protects; S3 needs versioning on first.
    { ...opts, retainOnDelete: true, dependsOn: [bucket.versioning] },
  );
}
