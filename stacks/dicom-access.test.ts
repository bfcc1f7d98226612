import { describe, expect, it } from "vitest";
import { dicomKeyPolicy, objectAccessStatements, roleOfCaller } from "./dicom-access";
import { MOCK_ACCOUNT_ID, MOCK_DEPLOY_ROLE } from "./offline/mocks";
import { inputs, json, one, recordWith } from "./testing/harness";

const base = {
  partition: "aws",
  accountId: "123456789012",
  region: "eu-central-1",
  deployRoleArn: "arn:aws:iam::123456789012:role/ci/deploy",
  taskRoleArn: "arn:aws:iam::123456789012:role/s-task",
  dataReaders: [],
};

describe("dicom-access", () => {
  it("denies object reads and deletes on aws:PrincipalArn, exempting the task role, the readers and the deploy role, which reads the smoke samples only", () => {
    const [others, smoke, deletes] = objectAccessStatements("arn:aws:s3:::b", "arn:aws:iam::1:role/t", ["arn:aws:iam::1:role/r-*"], {
      roleArn: "arn:aws:iam::1:role/d",
      smokeObjectKeys: ["p/1/2/3.dcm"],
    });
    expect(others.Condition).toEqual({ ArnNotLike: { "aws:PrincipalArn": ["arn:aws:iam::1:role/t", "arn:aws:iam::1:role/r-*", "arn:aws:iam::1:role/d"] } });
    expect([smoke.NotResource, smoke.Condition]).toEqual([["arn:aws:s3:::b/p/1/2/3.dcm"], { ArnEquals: { "aws:PrincipalArn": "arn:aws:iam::1:role/d" } }]);
    expect([deletes.Action, deletes.Resource]).toEqual([["s3:DeleteObject*"], "arn:aws:s3:::b/*"]);
  });

  it("lets the account's IAM decide only about reading the key's metadata, and readers decrypt through S3 only", () => {
    const doc = dicomKeyPolicy({ ...base, dataReaders: ["arn:aws:iam::123456789012:role/viewer"] });
    expect(doc.Statement.map((s: any) => s.Sid)).toEqual(["DeployIdentityAdministers", "AccountReadsKeyMetadata", "TaskRoleUsesThroughS3", "DataReadersDecryptThroughS3"]);
    const unconditioned = doc.Statement.filter((s: any) => !s.Condition);
    expect(unconditioned.map((s: any) => s.Action)).toEqual([["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:ListKeyPolicies", "kms:ListKeyRotations"]]);
    expect(doc.Statement.every((s: any) => s.Principal.AWS === "arn:aws:iam::123456789012:root")).toBe(true);
    expect((doc.Statement[3] as any).Action).toEqual(["kms:Decrypt"]);
    expect(dicomKeyPolicy(base).Statement).toHaveLength(3);
    expect(() => dicomKeyPolicy({ ...base, deployRoleArn: "arn:aws:sts::123456789012:assumed-role/deploy/ci" })).toThrow(/IAM role or user ARN/);
  });

  it("takes a session's role as the caller's identity", () => {
    expect(roleOfCaller("arn:aws:sts::123456789012:assumed-role/deploy/gha-123")).toBe("arn:aws:iam::123456789012:role/deploy");
    expect(roleOfCaller("arn:aws:iam::123456789012:user/alice")).toBe("arn:aws:iam::123456789012:user/alice");
  });
});

describe("dicom-access in the stack", () => {
  it("makes the role of whoever runs Pulumi the key's administrator, or the configured deployRoleArn", async () => {
    const admin = async (overrides: Record<string, unknown>) =>
      json(inputs(one((await recordWith(overrides)).resources, "aws:kms/key:Key")).policy).Statement[0].Condition.ArnEquals["aws:PrincipalArn"];
    expect(await admin({})).toBe(`arn:aws:iam::${MOCK_ACCOUNT_ID}:role/${MOCK_DEPLOY_ROLE}`);
    expect(await admin({ deployRoleArn: "arn:aws:iam::123456789012:role/platform/deploy" })).toBe("arn:aws:iam::123456789012:role/platform/deploy");
  });

  it("exempts the configured data readers in the bucket policy and lets them decrypt through S3", async () => {
    const reader = "arn:aws:iam::123456789012:role/research-viewer";
    const { resources } = await recordWith({ dataReaders: [reader] });
    const deny = json(inputs(one(resources, "aws:s3/bucketPolicy:BucketPolicy", "stowrs-test-dicom-policy")).policy).Statement[1];
    expect(deny.Condition.ArnNotLike["aws:PrincipalArn"]).toEqual([
      "arn:aws:iam::123456789012:role/stowrs-test-task",
      reader,
      `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/${MOCK_DEPLOY_ROLE}`,
    ]);
    const key = json(inputs(one(resources, "aws:kms/key:Key")).policy).Statement;
    expect(key.find((s: any) => s.Sid === "DataReadersDecryptThroughS3").Condition.ArnLike["aws:PrincipalArn"]).toEqual([reader]);
    // The task role the policies name is the one the task runs as.
    expect(inputs(one(resources, "aws:iam/role:Role", "stowrs-test-task")).name).toBe("stowrs-test-task");
  });
});
