import { describe, expect, it } from "vitest";
import { executionPolicyDocument, taskPolicyDocument } from "./task-roles";

const bucket = "arn:aws:s3:::dicom-bucket";
const key = "arn:aws:kms:eu-central-1:123456789012:key/k";
const certs = ["arn:aws:s3:::certs/certificate.crt", "arn:aws:s3:::certs/certificate.key"];

function actionsOn(doc: ReturnType<typeof taskPolicyDocument>, resource: string): string[] {
  return doc.Statement.filter((s) => [s.Resource].flat().includes(resource)).flatMap((s) => s.Action);
}

describe("task role policy", () => {
  it("limits DICOM writes to the configured prefix", () => {
    const doc = taskPolicyDocument({ dicomBucketArn: bucket, prefix: "incoming/dicom", kmsKeyArn: key, certificateObjectArns: certs });
    expect(actionsOn(doc, `${bucket}/incoming/dicom/*`).sort()).toEqual(
      ["s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectTagging", "s3:ListMultipartUploadParts", "s3:PutObject", "s3:PutObjectTagging"].sort(),
    );
    expect(actionsOn(doc, `${bucket}/*`)).toEqual([]);
  });

  it("allows only ListBucket on the bucket itself, for the readiness HeadBucket", () => {
    const doc = taskPolicyDocument({ dicomBucketArn: bucket, prefix: "p", certificateObjectArns: [] });
    expect(actionsOn(doc, bucket)).toEqual(["s3:ListBucket"]);
  });

  it("uses the whole bucket when there is no prefix", () => {
    const doc = taskPolicyDocument({ dicomBucketArn: bucket, prefix: "", certificateObjectArns: [] });
    expect(actionsOn(doc, `${bucket}/*`)).toContain("s3:PutObject");
  });

  it("grants data keys on the DICOM key only with SSE-KMS", () => {
    const withKms = taskPolicyDocument({ dicomBucketArn: bucket, prefix: "", kmsKeyArn: key, certificateObjectArns: [] });
    expect(actionsOn(withKms, key)).toEqual(["kms:GenerateDataKey", "kms:Decrypt"]);
    const withoutKms = taskPolicyDocument({ dicomBucketArn: bucket, prefix: "", certificateObjectArns: [] });
    expect(JSON.stringify(withoutKms)).not.toContain("kms:");
  });

  it("lets the task decrypt with an external certificate bucket's own key, and nothing more with it", () => {
    const siteKey = "arn:aws:kms:eu-central-1:210987654321:key/site";
    const doc = taskPolicyDocument({ dicomBucketArn: bucket, prefix: "", certificateObjectArns: certs, certificateKmsKeyArn: siteKey });
    expect(doc.Statement.find((s) => s.Sid === "DecryptTlsMaterial")).toEqual({ Sid: "DecryptTlsMaterial", Effect: "Allow", Action: ["kms:Decrypt"], Resource: siteKey });
    expect(actionsOn(doc, siteKey)).toEqual(["kms:Decrypt"]);
    const without = taskPolicyDocument({ dicomBucketArn: bucket, prefix: "", certificateObjectArns: certs });
    expect(without.Statement.map((s) => s.Sid)).not.toContain("DecryptTlsMaterial");
  });

  it("reads exactly the listed certificate objects", () => {
    const doc = taskPolicyDocument({ dicomBucketArn: bucket, prefix: "", certificateObjectArns: certs });
    const read = doc.Statement.find((s) => s.Sid === "ReadTlsMaterial")!;
    expect(read).toEqual({ Sid: "ReadTlsMaterial", Effect: "Allow", Action: ["s3:GetObject"], Resource: certs });
  });

  it("may list the certificate bucket, so a missing certificate reads as 404 and nginx falls back to self-signed", () => {
    const doc = taskPolicyDocument({ dicomBucketArn: bucket, prefix: "", certificateObjectArns: certs });
    expect(actionsOn(doc, "arn:aws:s3:::certs")).toEqual(["s3:ListBucket"]);
  });

  it("never grants deletes, wildcards of actions or resources", () => {
    const doc = taskPolicyDocument({ dicomBucketArn: bucket, prefix: "p", kmsKeyArn: key, certificateObjectArns: certs });
    for (const s of doc.Statement) {
      for (const a of s.Action) expect(a).not.toMatch(/\*|Delete/);
      for (const r of [s.Resource].flat()) expect(r).not.toBe("*");
      expect(s.Effect).toBe("Allow");
    }
  });
});

describe("execution role policy", () => {
  it("writes only to the task's log groups and pulls only from its repositories", () => {
    const doc = executionPolicyDocument({
      logGroupArns: ["arn:aws:logs:eu-central-1:1:log-group:/a/app"],
      ecrRepositoryArns: ["arn:aws:ecr:eu-central-1:1:repository/a-app"],
    });
    expect(doc.Statement).toEqual([
      {
        Sid: "WriteContainerLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: ["arn:aws:logs:eu-central-1:1:log-group:/a/app:log-stream:*"],
      },
      { Sid: "AuthenticateToEcr", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
      {
        Sid: "PullImages",
        Effect: "Allow",
        Action: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
        Resource: ["arn:aws:ecr:eu-central-1:1:repository/a-app"],
      },
    ]);
  });

  it("has no ECR access when every image comes from outside ECR", () => {
    const doc = executionPolicyDocument({ logGroupArns: ["arn:x"], ecrRepositoryArns: [] });
    expect(JSON.stringify(doc)).not.toContain("ecr:");
  });
});
