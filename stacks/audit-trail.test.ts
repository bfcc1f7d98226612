import { describe, expect, it } from "vitest";
import { createAuditTrail, type AuditTrailArgs } from "./audit-trail";
import { inputs, json, one, recordComponent } from "./testing/harness";

const args: AuditTrailArgs = {
  appName: "st",
  region: "eu-central-1",
  accountId: "123456789012",
  dicomBucketArn: "arn:aws:s3:::st-dicom-0123456789abcdef0123456789",
  settings: { enabled: true, retentionDays: 2192 },
  protectData: true,
};
const TRAIL_ARN = "arn:aws:cloudtrail:eu-central-1:123456789012:trail/st-dicom-data-events";

describe("createAuditTrail", () => {
  it("records object-level reads and writes of the DICOM bucket only", async () => {
    const { resources, result } = await recordComponent((opts) => createAuditTrail(args, opts));
    const trail = one(resources, "aws:cloudtrail/trail:Trail");
    expect(inputs(trail)).toMatchObject({ name: "st-dicom-data-events", isMultiRegionTrail: false, includeGlobalServiceEvents: false, enableLogFileValidation: true });
    expect(inputs(trail).s3BucketName).toMatch(/^st-audit-trail-/);
    // No readOnly selector: reads and writes both; no management events.
    expect(inputs(trail).advancedEventSelectors).toEqual([
      {
        name: "Reads and writes of DICOM objects",
        fieldSelectors: [
          { field: "eventCategory", equals: ["Data"] },
          { field: "resources.type", equals: ["AWS::S3::Object"] },
          { field: "resources.ARN", startsWiths: ["arn:aws:s3:::st-dicom-0123456789abcdef0123456789/"] },
        ],
      },
    ]);
    expect(inputs(trail).eventSelectors).toBeUndefined();
    expect(result.trailArn).toBe(TRAIL_ARN);
  });

  it("gives CloudTrail exactly what it needs in its bucket, for this trail only, and waits for that policy", async () => {
    const { resources } = await recordComponent((opts) => createAuditTrail(args, opts));
    const policy = one(resources, "aws:s3/bucketPolicy:BucketPolicy", "st-audit-trail-policy");
    const [tlsOnly, aclCheck, write] = json(inputs(policy).policy).Statement;
    expect(tlsOnly).toMatchObject({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(aclCheck).toMatchObject({
      Effect: "Allow",
      Principal: { Service: "cloudtrail.amazonaws.com" },
      Action: "s3:GetBucketAcl",
      Condition: { StringEquals: { "aws:SourceArn": TRAIL_ARN } },
    });
    expect(write).toMatchObject({
      Effect: "Allow",
      Principal: { Service: "cloudtrail.amazonaws.com" },
      Action: "s3:PutObject",
      Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL_ARN } },
    });
    expect(write.Resource).toMatch(/^arn:aws:s3:::st-audit-trail-[0-9a-f]+\/AWSLogs\/123456789012\/\*$/);
    expect(one(resources, "aws:cloudtrail/trail:Trail").dependencies).toContain(policy.urn);
  });

  it("keeps the trail's files when the stack goes, for retentionDays", async () => {
    const { resources } = await recordComponent((opts) => createAuditTrail(args, opts));
    const bucket = one(resources, "aws:s3/bucket:Bucket", "st-audit-trail");
    expect(bucket.options).toMatchObject({ retainOnDelete: true, protect: true });
    const rules = inputs(one(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "st-audit-trail-lifecycle")).rules;
    expect(rules.find((r: any) => r.id === "expire-objects").expiration).toEqual({ days: 2192 });
  });

  it("builds nothing when it is off", async () => {
    const { resources, result } = await recordComponent((opts) => createAuditTrail({ ...args, settings: { enabled: false, retentionDays: 2192 } }, opts));
    expect(resources.filter((r) => r.type.startsWith("aws:"))).toEqual([]);
    expect(result).toBeUndefined();
  });
});
