import { describe, expect, it } from "vitest";
import { EXEC_ACTIONS, executionPolicyDocument, taskPolicyDocument, type TaskPolicyInputs } from "./task-roles";

const bucket = "arn:aws:s3:::dicom-bucket";
const key = "arn:aws:kms:eu-central-1:123456789012:key/k";
const certs = ["arn:aws:s3:::certs/certificate.crt", "arn:aws:s3:::certs/certificate.key"];

/** The inputs of a stack without extras; each test sets what it is about. */
function task(p: Partial<TaskPolicyInputs>): ReturnType<typeof taskPolicyDocument> {
  return taskPolicyDocument({ region: "eu-central-1", dicomBucketArn: bucket, prefix: "", certificateObjectArns: [], executeCommand: false, ...p });
}

function actionsOn(doc: ReturnType<typeof taskPolicyDocument>, resource: string): string[] {
  return doc.Statement.filter((s) => [s.Resource].flat().includes(resource)).flatMap((s) => s.Action);
}

describe("task role policy", () => {
  it("limits DICOM writes to the configured prefix", () => {
    const doc = task({ prefix: "incoming/dicom", kmsKeyArn: key, certificateObjectArns: certs });
    expect(actionsOn(doc, `${bucket}/incoming/dicom/*`).sort()).toEqual(
      ["s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectTagging", "s3:ListMultipartUploadParts", "s3:PutObject", "s3:PutObjectTagging"].sort(),
    );
    expect(actionsOn(doc, `${bucket}/*`)).toEqual([]);
  });

  it("may list the bucket only under the prefix (s3:prefix), or the whole bucket when the prefix is the bucket", () => {
    const doc = task({ prefix: "incoming/dicom", certificateObjectArns: [] });
    expect(actionsOn(doc, bucket)).toEqual(["s3:ListBucket"]);
    expect(doc.Statement.find((s) => s.Sid === "ListDicomPrefix")!.Condition).toEqual({ StringLike: { "s3:prefix": ["incoming/dicom/*"] } });
    expect(task({ prefix: "" }).Statement.find((s) => s.Sid === "ListDicomPrefix")!.Condition).toBeUndefined();
  });

  it("uses the whole bucket when there is no prefix", () => {
    const doc = task({ prefix: "", certificateObjectArns: [] });
    expect(actionsOn(doc, `${bucket}/*`)).toContain("s3:PutObject");
  });

  it("grants data keys on the DICOM key only with SSE-KMS", () => {
    const withKms = task({ prefix: "", kmsKeyArn: key, certificateObjectArns: [] });
    expect(actionsOn(withKms, key)).toEqual(["kms:GenerateDataKey", "kms:Decrypt"]);
    // Only S3 may use it on the task's behalf: a stolen task credential cannot decrypt directly.
    expect(withKms.Statement.find((s) => s.Sid === "UseDicomKey")!.Condition).toEqual({ StringEquals: { "kms:ViaService": "s3.eu-central-1.amazonaws.com" } });
    const withoutKms = task({ prefix: "", certificateObjectArns: [] });
    expect(JSON.stringify(withoutKms)).not.toContain("kms:");
  });

  it("reads exactly the listed certificate objects", () => {
    const doc = task({ prefix: "", certificateObjectArns: certs });
    const read = doc.Statement.find((s) => s.Sid === "ReadTlsMaterial")!;
    expect(read).toEqual({ Sid: "ReadTlsMaterial", Effect: "Allow", Action: ["s3:GetObject"], Resource: certs });
  });

  it("may list the certificate bucket, so a missing certificate reads as 404 and nginx falls back to self-signed", () => {
    const doc = task({ prefix: "", certificateObjectArns: certs });
    expect(actionsOn(doc, "arn:aws:s3:::certs")).toEqual(["s3:ListBucket"]);
  });

  it("decrypts an external certificate bucket's own key through S3 only, and nothing of it without one", () => {
    const certKey = "arn:aws:kms:eu-central-1:123456789012:key/site-tls";
    const doc = task({ certificateObjectArns: certs, certificateKmsKeyArn: certKey });
    expect(doc.Statement.find((s) => s.Sid === "DecryptTlsMaterial")).toEqual({
      Sid: "DecryptTlsMaterial",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: certKey,
      Condition: { StringEquals: { "kms:ViaService": "s3.eu-central-1.amazonaws.com" } },
    });
    expect(JSON.stringify(task({ certificateObjectArns: certs }))).not.toContain("kms:");
  });

  it("opens ECS Exec's SSM channels only when exec is on", () => {
    expect(task({ executeCommand: true }).Statement.find((s) => s.Sid === "EcsExecChannels")).toEqual({
      Sid: "EcsExecChannels",
      Effect: "Allow",
      Action: EXEC_ACTIONS,
      Resource: "*",
    });
    expect(JSON.stringify(task({ executeCommand: false }))).not.toContain("ssmmessages");
  });

  it("never grants deletes, wildcards of actions or resources (ECS Exec's channels have no narrower resource)", () => {
    const doc = task({ prefix: "p", kmsKeyArn: key, certificateObjectArns: certs });
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
