import { describe, expect, it } from "vitest";
import type { LifecycleSettings } from "./config";
import { dicomLifecycleRules } from "./data-lifecycle";
import { createStorage, type StorageArgs } from "./storage";
import { inputs, ofType, one, recordComponent } from "./testing/harness";

const defaults: LifecycleSettings = {
  transitionDays: 30,
  storageClass: "INTELLIGENT_TIERING",
  noncurrentVersionExpirationDays: 90,
  abortIncompleteUploadDays: 7,
};

const storageArgs: StorageArgs = {
  appName: "st",
  accountId: "123456789012",
  dicomBucketPrefix: "st-dicom",
  encryption: "SSE-S3",
  accessLogRetentionDays: 365,
  protectData: false,
  access: {
    partition: "aws",
    region: "eu-central-1",
    deployRoleArn: "arn:aws:iam::123456789012:role/deploy",
    taskRoleArn: "arn:aws:iam::123456789012:role/st-task",
    dataReaders: [],
    smokeObjectKeys: [],
  },
};

function dicomRules(resources: Awaited<ReturnType<typeof recordComponent>>["resources"]): any[] {
  return inputs(one(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "st-dicom-lifecycle")).rules;
}

describe("dicomLifecycleRules", () => {
  it("moves current versions after transitionDays and expires old versions after noncurrentVersionExpirationDays", () => {
    expect(dicomLifecycleRules(defaults)).toEqual([
      { id: "transition-current-versions", status: "Enabled", filter: {}, transitions: [{ days: 30, storageClass: "INTELLIGENT_TIERING" }] },
      {
        id: "expire-noncurrent-versions",
        status: "Enabled",
        filter: {},
        noncurrentVersionExpiration: { noncurrentDays: 90 },
        expiration: { expiredObjectDeleteMarker: true },
      },
    ]);
  });

  it("has no transition for STANDARD and keeps old versions forever at 0 days", () => {
    expect(dicomLifecycleRules({ ...defaults, storageClass: "STANDARD", noncurrentVersionExpirationDays: 0 })).toEqual([]);
    expect(dicomLifecycleRules({ ...defaults, storageClass: "GLACIER_IR", transitionDays: 0 })[0].transitions).toEqual([{ days: 0, storageClass: "GLACIER_IR" }]);
  });
});

describe("createStorage with data lifecycle and Object Lock", () => {
  it("puts the rules beside the abort of incomplete uploads in the DICOM bucket's one lifecycle configuration", async () => {
    const { resources } = await recordComponent((opts) =>
      createStorage({ ...storageArgs, lifecycle: { ...defaults, abortIncompleteUploadDays: 3 } }, opts),
    );
    expect(dicomRules(resources).map((r) => r.id)).toEqual(["abort-incomplete-multipart-uploads", "transition-current-versions", "expire-noncurrent-versions"]);
    expect(dicomRules(resources)[0].abortIncompleteMultipartUpload).toEqual({ daysAfterInitiation: 3 });
    // The access-log bucket keeps its own rules.
    const logRules = inputs(one(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "st-access-logs-lifecycle")).rules;
    expect(logRules.map((r: any) => r.id)).toEqual(["abort-incomplete-multipart-uploads", "expire-objects"]);
  });

  it("without lifecycle settings keeps only the abort after 7 days", async () => {
    const { resources } = await recordComponent((opts) => createStorage(storageArgs, opts));
    expect(dicomRules(resources)).toEqual([
      { id: "abort-incomplete-multipart-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } },
    ]);
    expect(ofType(resources, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")).toEqual([]);
  });

  it("locks the DICOM bucket in governance mode after versioning is on, without replacing the bucket", async () => {
    const { resources } = await recordComponent((opts) => createStorage({ ...storageArgs, objectLock: { enabled: true, retentionDays: 120 } }, opts));
    const lock = one(resources, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration");
    expect(inputs(lock)).toMatchObject({
      bucket: expect.stringMatching(/^st-dicom-/),
      objectLockEnabled: "Enabled",
      rule: { defaultRetention: { mode: "GOVERNANCE", days: 120 } },
    });
    expect(lock.dependencies).toContain(one(resources, "aws:s3/bucketVersioning:BucketVersioning", "st-dicom-versioning").urn);
    expect(lock.options.retainOnDelete).toBe(true);
    // objectLockEnabled on the bucket forces a new bucket; the lock configuration does not.
    expect(inputs(one(resources, "aws:s3/bucket:Bucket", "st-dicom")).objectLockEnabled).toBeUndefined();
    expect(ofType(resources, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")).toHaveLength(1);
  });

  it("builds no lock when it is off", async () => {
    const { resources } = await recordComponent((opts) => createStorage({ ...storageArgs, objectLock: { enabled: false, retentionDays: 90 } }, opts));
    expect(ofType(resources, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")).toEqual([]);
  });
});
