import { describe, expect, it } from "vitest";
import type { RecordedResource } from "./offline/record";
import { createStorage, type StorageArgs } from "./storage";
import { inputs, json, ofType, one, recordComponent } from "./testing/harness";

const args: StorageArgs = {
  appName: "st",
  accountId: "123456789012",
  dicomBucketPrefix: "st-dicom",
  encryption: "SSE-KMS",
  accessLogRetentionDays: 365,
  protectData: false,
  access: {
    partition: "aws",
    region: "eu-central-1",
    deployRoleArn: "arn:aws:iam::123456789012:role/ci-deploy",
    taskRoleArn: "arn:aws:iam::123456789012:role/st-task",
    dataReaders: ["arn:aws:iam::123456789012:role/radiology-viewer"],
    smokeObjectKeys: ["dicom/1.2.3/1.2.3.4/1.2.3.4.5.dcm"],
  },
};

/** Every setting resource that targets the bucket recorded under `name`. */
function settingsOf(resources: RecordedResource[], name: string): Map<string, RecordedResource> {
  const bucket = one(resources, "aws:s3/bucket:Bucket", name);
  const bucketName = `${inputs(bucket).bucketPrefix}`;
  const map = new Map<string, RecordedResource>();
  for (const r of resources) {
    const target = inputs(r).bucket;
    if (r.type !== "aws:s3/bucket:Bucket" && typeof target === "string" && target.startsWith(bucketName)) {
      map.set(r.type.split(":").pop()!, r);
    }
  }
  return map;
}

describe("createStorage", () => {
  it("gives the DICOM bucket the full private posture", async () => {
    const { resources } = await recordComponent((opts) => createStorage(args, opts));
    const s = settingsOf(resources, "st-dicom");
    expect(inputs(s.get("BucketPublicAccessBlock")!)).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    expect(inputs(s.get("BucketOwnershipControls")!).rule).toEqual({ objectOwnership: "BucketOwnerEnforced" });
    expect(inputs(s.get("BucketVersioning")!).versioningConfiguration).toEqual({ status: "Enabled" });
    expect(inputs(s.get("BucketServerSideEncryptionConfiguration")!).rules).toEqual([
      {
        applyServerSideEncryptionByDefault: {
          sseAlgorithm: "aws:kms",
          kmsMasterKeyId: "arn:aws:kms:eu-central-1:123456789012:key/st-dicom-key-id",
        },
        bucketKeyEnabled: true,
      },
    ]);
    expect(inputs(s.get("BucketLifecycleConfiguration")!).rules).toContainEqual({
      id: "abort-incomplete-multipart-uploads",
      status: "Enabled",
      filter: {},
      abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
    });
    expect(inputs(s.get("BucketLogging")!)).toMatchObject({ targetPrefix: "dicom/" });
    expect(inputs(s.get("BucketLogging")!).targetBucket).toMatch(/^st-access-logs-/);
  });

  it("denies every request that does not use TLS", async () => {
    const { resources } = await recordComponent((opts) => createStorage(args, opts));
    const policy = json(inputs(settingsOf(resources, "st-dicom").get("BucketPolicy")!).policy);
    expect(policy.Statement).toHaveLength(4);
    expect(policy.Statement[0]).toMatchObject({
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    expect(policy.Statement[0].Resource).toHaveLength(2);
  });

  it("keeps the DICOM bucket, its settings, its key and the access logs when the stack is destroyed", async () => {
    const { resources } = await recordComponent((opts) => createStorage(args, opts));
    const dicom = one(resources, "aws:s3/bucket:Bucket", "st-dicom");
    expect(dicom.options.retainOnDelete).toBe(true);
    expect(inputs(dicom).forceDestroy).toBe(false);
    const settings = settingsOf(resources, "st-dicom");
    expect([...settings.keys()].sort()).toEqual([
      "BucketLifecycleConfiguration",
      "BucketLogging",
      "BucketOwnershipControls",
      "BucketPolicy",
      "BucketPublicAccessBlock",
      "BucketServerSideEncryptionConfiguration",
      "BucketVersioning",
    ]);
    for (const r of settings.values()) expect(r.options.retainOnDelete, r.name).toBe(true);
    expect(one(resources, "aws:kms/key:Key").options.retainOnDelete).toBe(true);
    expect(one(resources, "aws:s3/bucket:Bucket", "st-access-logs").options.retainOnDelete).toBe(true);
  });

  it("uses SSE-S3 and no key when configured so", async () => {
    const { resources, result } = await recordComponent((opts) => createStorage({ ...args, encryption: "SSE-S3" }, opts));
    expect(ofType(resources, "aws:kms/key:Key")).toEqual([]);
    expect(inputs(settingsOf(resources, "st-dicom").get("BucketServerSideEncryptionConfiguration")!).rules).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
    ]);
    expect(result.kmsKeyArn).toBeUndefined();
  });

  it("lets only S3 log delivery from this account write to the log bucket, which expires old logs", async () => {
    const { resources } = await recordComponent((opts) => createStorage(args, opts));
    const s = settingsOf(resources, "st-access-logs");
    const statements = json(inputs(s.get("BucketPolicy")!).policy).Statement;
    expect(statements[1]).toMatchObject({
      Effect: "Allow",
      Principal: { Service: "logging.s3.amazonaws.com" },
      Action: "s3:PutObject",
      Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } },
    });
    // S3 server access logging cannot deliver into an SSE-KMS bucket.
    expect(inputs(s.get("BucketServerSideEncryptionConfiguration")!).rules[0].applyServerSideEncryptionByDefault.sseAlgorithm).toBe("AES256");
    expect(inputs(s.get("BucketLifecycleConfiguration")!).rules.map((r: any) => r.id)).toContain("expire-objects");
  });

  it("denies reading and deleting DICOM objects to all but the task role and the data readers; the deploy role reads the smoke samples only", async () => {
    const { resources } = await recordComponent((opts) => createStorage(args, opts));
    const policy = json(inputs(settingsOf(resources, "st-dicom").get("BucketPolicy")!).policy);
    const objects = expect.stringMatching(/^arn:aws:s3:::st-dicom-\w+\/\*$/);
    expect(policy.Statement.slice(1)).toEqual([
      {
        Sid: "DenyObjectReadDeleteToOthers",
        Effect: "Deny",
        Principal: "*",
        Action: ["s3:GetObject*", "s3:DeleteObject*"],
        Resource: objects,
        Condition: {
          ArnNotLike: {
            "aws:PrincipalArn": ["arn:aws:iam::123456789012:role/st-task", "arn:aws:iam::123456789012:role/radiology-viewer", "arn:aws:iam::123456789012:role/ci-deploy"],
          },
        },
      },
      {
        Sid: "DeployRoleReadsSmokeSamplesOnly",
        Effect: "Deny",
        Principal: "*",
        Action: ["s3:GetObject*"],
        NotResource: [expect.stringMatching(/^arn:aws:s3:::st-dicom-\w+\/dicom\/1\.2\.3\/1\.2\.3\.4\/1\.2\.3\.4\.5\.dcm$/)],
        Condition: { ArnEquals: { "aws:PrincipalArn": "arn:aws:iam::123456789012:role/ci-deploy" } },
      },
      {
        Sid: "DeployRoleDeletesNoObject",
        Effect: "Deny",
        Principal: "*",
        Action: ["s3:DeleteObject*"],
        Resource: objects,
        Condition: { ArnEquals: { "aws:PrincipalArn": "arn:aws:iam::123456789012:role/ci-deploy" } },
      },
    ]);
    // The access-log bucket holds no PHI; its policy stays as it was.
    expect(json(inputs(settingsOf(resources, "st-access-logs").get("BucketPolicy")!).policy).Statement.map((s: any) => s.Sid)).toEqual([
      "DenyInsecureTransport",
      "AllowS3ServerAccessLogs",
    ]);
  });

  it("gives the DICOM key a policy of its own: the deploy role administers, the task role and readers use it through S3 only", async () => {
    const { resources } = await recordComponent((opts) => createStorage(args, opts));
    const policy = json(inputs(one(resources, "aws:kms/key:Key")).policy);
    expect(policy.Statement.map((s: any) => [s.Sid, s.Condition?.ArnEquals?.["aws:PrincipalArn"] ?? s.Condition?.ArnLike?.["aws:PrincipalArn"]])).toEqual([
      ["DeployIdentityAdministers", "arn:aws:iam::123456789012:role/ci-deploy"],
      ["AccountReadsKeyMetadata", undefined],
      ["TaskRoleUsesThroughS3", "arn:aws:iam::123456789012:role/st-task"],
      ["DataReadersDecryptThroughS3", ["arn:aws:iam::123456789012:role/radiology-viewer"]],
    ]);
    for (const s of policy.Statement.slice(2)) {
      expect(s.Condition.StringEquals).toEqual({ "kms:ViaService": "s3.eu-central-1.amazonaws.com", "kms:CallerAccount": "123456789012" });
    }
  });

  it("rotates the DICOM key", async () => {
    const { resources } = await recordComponent((opts) => createStorage(args, opts));
    expect(inputs(one(resources, "aws:kms/key:Key")).enableKeyRotation).toBe(true);
    expect(inputs(one(resources, "aws:kms/alias:Alias")).name).toBe("alias/st-dicom");
  });
});
